// Small helpers for touch screens. Everything also works without them (the forms post to the server).
(function () {
  // PIN keypads
  document.querySelectorAll(".keypad").forEach(function (pad) {
    var input = document.getElementById(pad.dataset.target);
    pad.addEventListener("click", function (event) {
      var key = event.target.dataset && event.target.dataset.key;
      if (!key) return;
      input.value = key === "clear" ? "" : (input.value + key).slice(0, 8);
      input.focus();
    });
  });

  // Sign-in: choosing a name puts the cursor in the PIN box; Enter with no PIN is not sent (not a guess).
  var pin = document.getElementById("pin");
  if (pin) {
    document.querySelectorAll(".staff-tile input").forEach(function (radio) {
      radio.addEventListener("change", function () { pin.value = ""; pin.focus(); });
      radio.parentElement.addEventListener("click", function () { setTimeout(function () { pin.focus(); }, 0); });
    });
    pin.form.addEventListener("submit", function (event) {
      if (!pin.value.trim()) { event.preventDefault(); pin.focus(); }
    });
  }

  // A lock-out message counts down to the moment the PIN can be tried again.
  document.querySelectorAll(".messages li").forEach(function (item) {
    var match = /Try again in (\d+) seconds?\./.exec(item.textContent);
    if (!match) return;
    var left = parseInt(match[1], 10);
    var prefix = item.textContent.slice(0, match.index);
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        item.textContent = "You can try your PIN again now.";
        item.className = "msg-info";
      } else {
        item.textContent = prefix + "Try again in " + left + " second" + (left === 1 ? "" : "s") + ".";
      }
    }, 1000);
  });

  // "Barcode not found" beeps, so the cashier looks up from the scanner.
  document.querySelectorAll(".messages .msg-error").forEach(function (item) {
    if (!/not found/i.test(item.textContent)) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no sound: the message is on screen */ }
  });

  // The scan box: always empty and focused, ready for the next scan.
  var scan = document.getElementById("scan");
  if (scan) {
    scan.value = "";
    if (!document.activeElement || document.activeElement === document.body) scan.focus();
    scan.form.addEventListener("submit", function () { setTimeout(function () { scan.value = ""; }, 0); });
  }

  // Change due, shown while the cash is typed (integer minor units, as the server counts).
  var tendered = document.getElementById("tendered");
  var changeDue = document.getElementById("change-due");
  var totalEl = document.getElementById("order-total");
  if (tendered && changeDue && totalEl) {
    var symbol = (totalEl.textContent.trim().match(/^[^0-9-]*/) || [""])[0];
    var format = function (minor) {
      var whole = Math.floor(minor / 100), cents = minor % 100;
      return symbol + whole.toLocaleString("en-GB") + "." + (cents < 10 ? "0" : "") + cents;
    };
    var update = function () {
      var text = tendered.value.trim().replace(symbol, "").trim();
      var m = /^([0-9]{0,7})(?:[.,]([0-9]{1,2}))?$/.exec(text);
      if (!text || !m || !(m[1] || m[2])) { changeDue.textContent = ""; return; }
      var minor = parseInt(m[1] || "0", 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
      var diff = minor - parseInt(totalEl.dataset.minor, 10);
      changeDue.className = "change-due" + (diff < 0 ? " short" : "");
      changeDue.textContent = diff < 0 ? "Short " + format(-diff) : "Change " + format(diff);
    };
    tendered.addEventListener("input", update);
    update();
  }
})();
