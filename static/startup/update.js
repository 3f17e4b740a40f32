// While an update downloads, show its progress and move on when it is ready.
(function () {
  var box = document.getElementById("update");
  if (!box || box.dataset.status !== "downloading") return;
  function poll() {
    fetch("/updates/status/", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      document.getElementById("update-bar").style.width = s.percent + "%";
      document.getElementById("update-percent").textContent = Math.round(s.percent);
      if (s.status === "downloading") { setTimeout(poll, 300); } else { window.location.reload(); }
    }).catch(function () { setTimeout(poll, 1000); });  // a busy moment is not the end of the download
  }
  poll();
})();
