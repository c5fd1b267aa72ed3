// Barcode scanners type the code and press Enter. In a scan field, Enter must not submit the form:
// it picks the lot whose label code (or lot number) was scanned and moves on. Works without JS:
// the server resolves the scanned code itself.
(function () {
  "use strict";
  function pickScanned(input) {
    var target = input.dataset.scanFor && document.getElementById(input.dataset.scanFor);
    if (!target) { return; }
    var code = input.value.trim().toLowerCase();
    if (!code) { return; }
    for (var i = 0; i < target.options.length; i += 1) {
      var option = target.options[i];
      if ((option.dataset.code || "").toLowerCase() === code || (option.dataset.lot || "").toLowerCase() === code) {
        target.value = option.value;
        return;
      }
    }
  }
  function init(root) {
    root.querySelectorAll("input[data-scan]").forEach(function (input) {
      if (input.dataset.scanBound) { return; }
      input.dataset.scanBound = "1";
      input.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") { return; }
        event.preventDefault();
        pickScanned(input);
        var fields = Array.prototype.slice.call(input.form.querySelectorAll("input, select, textarea, button"));
        var next = fields[fields.indexOf(input) + 1];
        if (next) { next.focus(); }
      });
      input.addEventListener("change", function () { pickScanned(input); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { init(evt.target); });
})();
