// The counter tablet's PIN pad (templates/counter/pin.html). Without this file the page is a plain numeric field
// and a button; with it the pad shows, its keys type into the field, and keys typed anywhere on the page (digits,
// Backspace, Enter) work too, so a keyboard and a finger both do.
(function () {
  "use strict";
  var form = document.getElementById("pin-form");
  if (!form) { return; }
  var field = document.getElementById("pin");
  var pad = form.querySelector(".pinpad");
  var plain = form.querySelector(".pin-submit");
  var max = parseInt(field.getAttribute("maxlength"), 10) || 8;
  pad.hidden = false;
  if (plain) { plain.hidden = true; }

  function type(digit) {
    if (field.value.length < max) { field.value += digit; }
  }
  function erase() {
    field.value = field.value.slice(0, -1);
  }
  function submit() {
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  pad.addEventListener("click", function (event) {
    var key = event.target.closest("button");
    if (!key || key.type === "submit") { return; }
    if (key.dataset.digit !== undefined) { type(key.dataset.digit); } else if (key.dataset.key === "back") { erase(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.target === field || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (/^[0-9]$/.test(event.key)) { type(event.key); event.preventDefault(); }
    else if (event.key === "Backspace") { erase(); event.preventDefault(); }
    else if (event.key === "Enter" && event.target.tagName !== "BUTTON" && event.target.tagName !== "A") {
      submit(); event.preventDefault();
    }
  });
})();
