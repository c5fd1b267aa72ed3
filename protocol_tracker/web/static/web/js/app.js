// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  function init(root) {
    root.querySelectorAll("select.autosubmit").forEach(function (el) {
      if (el.dataset.bound) { return; }
      el.dataset.bound = "1";
      el.addEventListener("change", function () { el.form.requestSubmit(); });
    });
    root.querySelectorAll("[data-print]").forEach(function (el) {
      if (el.dataset.bound) { return; }
      el.dataset.bound = "1";
      el.addEventListener("click", function () { window.print(); });
    });
    root.querySelectorAll("form[data-once]").forEach(function (form) {
      if (form.dataset.bound) { return; }
      form.dataset.bound = "1";
      // A double tap with gloves must not submit twice.
      form.addEventListener("submit", function () {
        setTimeout(function () {
          form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        }, 0);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { init(evt.target); });
})();
