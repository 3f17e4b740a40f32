// Poll the start-up status and show each step; go on when ready or when a recovery page is due.
(function () {
  var order = ["classify", "integrity", "disk", "backup", "migrate", "verify"];
  function show(s) {
    document.getElementById("startup-message").textContent = s.message;
    if (s.percent !== null && s.percent !== undefined) document.getElementById("startup-bar").style.width = s.percent + "%";
    var idx = order.indexOf(s.step);
    document.querySelectorAll("#startup-steps li").forEach(function (li, i) {
      li.className = i < idx ? "done" : (i === idx ? "current" : "");
    });
  }
  function poll() {
    fetch("/startup/status/", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      show(s);
      if (s.status === "starting") { setTimeout(poll, 150); } else { window.location.replace("/startup/"); }
    }).catch(function () { setTimeout(poll, 500); });
  }
  poll();
})();
