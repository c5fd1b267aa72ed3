// The identity scan page: a USB scanner types into the field and presses Enter (a plain form
// submit, no script needed); on a tablet, the camera reads the label (the browser's
// BarcodeDetector where it has one, else the vendored @zxing/library); typed by hand, the
// witness fields open. Every result is announced (aria-live) by the server's answer.
(function () {
  "use strict";
  var FORMATS = ["qr_code", "data_matrix", "code_128"];

  function init() {
    var form = document.getElementById("scan-form");
    if (!form) { return; }
    var field = form.querySelector("input[name=scanned]");
    var method = form.querySelector("input[name=method]");
    var manual = form.querySelector("input[name=manual]");
    var witness = form.querySelector("fieldset[data-witness]");
    var video = form.querySelector("video[data-camera]");
    var start = form.querySelector("[data-camera-start]");
    var stop = form.querySelector("[data-camera-stop]");
    var status = form.querySelector("[data-camera-status]");
    var actions = form.querySelector("[data-camera-actions]");
    var stream = null, reader = null, timer = null;

    function showWitness() {
      if (witness) { witness.hidden = !(manual && manual.checked); }
    }
    if (manual) { manual.addEventListener("change", showWitness); }
    showWitness();
    if (field) {
      // Anything typed or scanned into the field by a person counts as the scanner's (a
      // keyboard wedge); the camera sets its own method.
      field.addEventListener("input", function () { if (method) { method.value = "scanner"; } });
    }
    document.body.addEventListener("htmx:afterSwap", function () {
      if (field) { field.value = ""; field.focus(); }
    });

    function stopCamera() {
      if (timer) { clearInterval(timer); timer = null; }
      if (reader && reader.reset) { reader.reset(); }
      reader = null;
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      if (video) { video.hidden = true; }
      if (stop) { stop.hidden = true; }
      if (start) { start.hidden = false; }
    }
    function found(text) {
      stopCamera();
      field.value = text;
      if (method) { method.value = "camera"; }
      if (status) { status.textContent = ""; }
      form.requestSubmit();
    }
    function startCamera() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
      start.hidden = true;
      stop.hidden = false;
      video.hidden = false;
      if (status) { status.textContent = status.dataset.looking || ""; }
      if ("BarcodeDetector" in window) {
        var detector = new window.BarcodeDetector({ formats: FORMATS });
        navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
          .then(function (s) {
            stream = s;
            video.srcObject = s;
            return video.play();
          })
          .then(function () {
            timer = setInterval(function () {
              detector.detect(video).then(function (codes) {
                if (codes.length) { found(codes[0].rawValue); }
              }).catch(function () {});
            }, 250);
          })
          .catch(function (err) { stopCamera(); if (status) { status.textContent = String(err); } });
      } else if (window.ZXing && window.ZXing.BrowserMultiFormatReader) {
        reader = new window.ZXing.BrowserMultiFormatReader();
        reader.decodeFromVideoDevice(null, video, function (result) {
          if (result) { found(result.getText()); }
        }).catch(function (err) { stopCamera(); if (status) { status.textContent = String(err); } });
      }
    }
    if (actions && video && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      actions.hidden = false;
      start.addEventListener("click", startCamera);
      stop.addEventListener("click", stopCamera);
    }
  }
  document.addEventListener("DOMContentLoaded", init);
})();
