// Small helpers for touch screens. Everything also works without them (the forms post to the server).
(function () {
  // A page shown in place (the receipt after a payment, below) has a history entry of its own: Back and
  // Forward between it and the page it replaced load the page of the address they arrive at.
  var paged = false;
  window.addEventListener("popstate", function (event) {
    if (paged || (event.state && event.state.tillPage)) window.location.reload();
  });

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
  function beepOnNotFound(root) {
    root.querySelectorAll(".messages .msg-error").forEach(function (item) {
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
  }
  beepOnNotFound(document);

  // The scan box: always empty and focused, ready for the next scan.
  var scan = document.getElementById("scan");
  if (scan) {
    scan.value = "";
    if (!document.activeElement || document.activeElement === document.body) scan.focus();
    scan.form.addEventListener("submit", function () { setTimeout(function () { scan.value = ""; }, 0); });
  }

  // Change due, shown while the cash is typed (integer minor units, as the server counts).
  function initChangeDue() {
    var tendered = document.getElementById("tendered");
    var changeDue = document.getElementById("change-due");
    var totalEl = document.getElementById("order-total");
    if (!tendered || !changeDue || !totalEl) return;
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
  initChangeDue();

  // Basket actions (add, scan, quantity, table, line void, pay) go by fetch: the server answers with
  // the basket and the open orders, swapped in here, instead of a redirect and a whole new page; a
  // payment is answered with the receipt page itself (its address in X-Till-Page), shown at once.
  // One request at a time, in the order tapped; while any is on its way, <body aria-busy="true">,
  // and links and other forms (Park…) wait for the basket to be up to date before they go.
  var basket = document.querySelector(".basket");
  var enhanced = basket && window.fetch && window.DOMParser && !document.querySelector(".tables-grid");
  if (!enhanced) return;
  var queue = [];
  var running = false;
  var waiting = [];

  function busy(on) {
    if (on) document.body.setAttribute("aria-busy", "true");
    else document.body.removeAttribute("aria-busy");
  }

  function whenIdle(go) {
    if (!running && !queue.length) go();
    else waiting.push(go);
  }

  // A form swapped out while its tap waited: the same form (action and button) in the new basket.
  function sameForm(form, submitter) {
    if (form.isConnected) return { form: form, submitter: submitter };
    var action = form.getAttribute("action");
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].getAttribute("action") !== action) continue;
      if (!submitter) return { form: forms[i], submitter: null };
      var buttons = forms[i].querySelectorAll("button");
      for (var j = 0; j < buttons.length; j++) {
        var b = buttons[j];
        if (b.name === submitter.name && b.value === submitter.value && b.textContent === submitter.textContent
            && b.getAttribute("aria-label") === submitter.getAttribute("aria-label")) {
          return { form: forms[i], submitter: b };
        }
      }
    }
    return null;
  }

  // The form's fields, sent urlencoded as a plain form post would be (no file fields here; the server
  // reads that faster than multipart).
  function formData(form, submitter) {
    var data = new URLSearchParams(new FormData(form));
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    return data;
  }

  function plainSubmit(form, submitter) {
    form.dataset.plain = "1";
    if (form.requestSubmit) form.requestSubmit(submitter || undefined);
    else form.submit();
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var newBasket = doc.querySelector(".basket");
    if (!newBasket) return false;
    var hadFocus = document.activeElement;
    var oldBasket = document.querySelector(".basket");
    oldBasket.replaceWith(document.adoptNode(newBasket));
    var newOrders = doc.querySelector(".open-orders");
    var oldOrders = document.querySelector(".open-orders");
    if (newOrders && oldOrders) oldOrders.replaceWith(document.adoptNode(newOrders));
    var newMessages = doc.querySelector(".messages");
    var oldMessages = document.querySelector(".messages");
    if (oldMessages) oldMessages.remove();
    if (newMessages && newMessages.children.length) {
      document.querySelector("main").before(document.adoptNode(newMessages));
      beepOnNotFound(document);
    }
    var here = newBasket.dataset.here;
    if (here && here !== location.pathname + location.search) history.replaceState(null, "", here);
    initChangeDue();
    // Keep the scan box ready, unless the cashier is typing somewhere else (cash, a reason, a PIN).
    var typing = hadFocus && hadFocus.isConnected && /^(INPUT|SELECT|TEXTAREA)$/.test(hadFocus.tagName);
    var approve = document.querySelector(".basket .approve-form input[name=reason]");
    if (approve && !typing) approve.focus();
    else if (scan && !typing) scan.focus();
    return true;
  }

  // A whole page answered to a basket action (the receipt after a payment): shown as if navigated to,
  // with its own address; Back and Forward load the pages they go to.
  function showPage(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    if (!doc.body || !doc.body.children.length) return false;
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    paged = true;
    history.pushState({ tillPage: true }, "", url);
    window.scrollTo(0, 0);
    return true;
  }

  function next() {
    var job = queue.shift();
    if (!job) {
      running = false;
      busy(false);
      var go = waiting.splice(0, waiting.length);
      go.forEach(function (fn) { fn(); });
      return;
    }
    running = true;
    var target = job.data ? job : sameForm(job.form, job.submitter);
    if (!target) { next(); return; }  // that button is gone (its line was removed): nothing to do
    var data = job.data || formData(target.form, target.submitter);
    fetch(target.form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "text/html-fragment" },
    }).then(function (response) {
      var goTo = response.headers.get("X-Till-Location");
      if (goTo) { window.location.assign(goTo); return null; }  // a search: its own page
      if (response.redirected) { window.location.assign(response.url); return null; }  // signed out, start-up…
      if (!response.ok) { window.location.reload(); return null; }  // the page says what is wrong
      var page = response.headers.get("X-Till-Page");
      return response.text().then(function (html) {
        if (page) {
          if (!showPage(html, page)) { window.location.assign(page); return; }
        } else if (!swap(html)) { window.location.reload(); return; }
        next();
      });
    }).catch(function () {
      // No answer: post it the plain way, so the tap is not lost and the browser shows what happened.
      if (scan && target.form === scan.form && job.data) scan.value = job.data.get("code") || "";
      plainSubmit(target.form, target.submitter);
    });
  }

  function enqueue(form, submitter) {
    // A form outside the basket (products, scan) is read now: the scan box empties for the next scan.
    // One inside it is read when its turn comes: a second tap on "+" counts from the first one's answer.
    var inside = basket && form.closest(".basket");
    queue.push({ form: form, submitter: submitter, data: inside ? null : formData(form, submitter) });
    if (form === (scan && scan.form)) scan.value = "";
    busy(true);
    if (!running) next();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.plain) { delete form.dataset.plain; return; }
    var submitter = event.submitter || null;
    if (form.hasAttribute("data-basket")) {
      event.preventDefault();
      enqueue(form, submitter);
    } else if (running || queue.length) {
      event.preventDefault();  // Pay, Park…: once the basket is up to date (and with its new form)
      var values = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.type !== "hidden" && el.type !== "submit") values[el.name] = el.value;
      });
      whenIdle(function () {
        var target = sameForm(form, submitter);
        if (!target || (target.submitter && target.submitter.disabled)) return;
        Object.keys(values).forEach(function (name) {
          var field = target.form.elements[name];
          if (field && !field.value) field.value = values[name];
        });
        plainSubmit(target.form, target.submitter);
      });
    }
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-submit-on-change")) {
      if (field.form.requestSubmit) field.form.requestSubmit();
      else enqueue(field.form, null);
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || !(running || queue.length) || event.defaultPrevented) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();  // a category or Tables: once the basket's last tap is saved
    whenIdle(function () { window.location.assign(link.href); });
  });
})();
