// The denomination counter of the cash drawer pages (templates counter/_denominations.html): shown only when
// JavaScript runs; the count of each note and coin is added up into the amount field the form sends. Without
// JavaScript the fieldset stays hidden and the total is typed.
(function () {
  "use strict";
  document.querySelectorAll("[data-denominations]").forEach(function (box) {
    var target = document.getElementById(box.getAttribute("data-target"));
    if (!target) { return; }
    var inputs = box.querySelectorAll("input[data-cents]");
    box.hidden = false;
    function total() {
      var cents = 0;
      inputs.forEach(function (input) {
        var n = parseInt(input.value, 10);
        if (n > 0) { cents += n * parseInt(input.getAttribute("data-cents"), 10); }
      });
      target.value = (cents / 100).toFixed(2);
    }
    inputs.forEach(function (input) { input.addEventListener("input", total); });
  });
})();
