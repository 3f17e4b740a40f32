// Small helpers for touch screens: the PIN keypad and quick-cash buttons. Everything also works without them.
(function () {
  document.querySelectorAll(".keypad").forEach(function (pad) {
    var input = document.getElementById(pad.dataset.target);
    pad.addEventListener("click", function (event) {
      var key = event.target.dataset && event.target.dataset.key;
      if (!key) return;
      input.value = key === "clear" ? "" : (input.value + key).slice(0, 8);
      input.focus();
    });
  });
  document.querySelectorAll("[data-cash]").forEach(function (button) {
    button.addEventListener("click", function () {
      var minor = button.dataset.cash === "exact" ? button.dataset.amount : button.dataset.cash;
      var input = document.getElementById("tendered");
      input.value = (parseInt(minor, 10) / 100).toFixed(2);
      input.focus();
    });
  });
})();
