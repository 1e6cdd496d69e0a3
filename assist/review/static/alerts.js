// Polls for calls that just reached escalate or a boundary and shows a banner (list and call pages).
(function () {
  "use strict";
  var box = document.getElementById("alert");
  if (!box) { return; }
  var latest = parseInt(box.dataset.latest || "0", 10);
  var POLL_MS = 3000;

  function show(alert) {
    box.textContent = "";
    var text = document.createTextNode(
      alert.agent + "'s call reached " + (alert.stage_label || alert.stage) +
      (alert.reason ? ": " + alert.reason : "") + " ");
    var link = document.createElement("a");
    link.href = "/calls/" + encodeURIComponent(alert.call_id);
    link.textContent = "Open the call";
    box.appendChild(text);
    box.appendChild(link);
    box.hidden = false;
  }

  function poll() {
    fetch("/api/alerts?after=" + latest, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.alerts.length) { show(data.alerts[data.alerts.length - 1]); }
        latest = data.latest;
      })
      .catch(function () { /* the server may be restarting; the next poll tries again */ })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }
  setTimeout(poll, POLL_MS);
})();
