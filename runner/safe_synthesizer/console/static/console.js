// Safe Synthesizer console: select-all on the job list and live progress on the details page.
// The pages work without it (progress then updates on reload).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input[name=selected]").forEach(function (box) { box.checked = all.checked; });
      });
    }
    var panel = document.getElementById("progress");
    if (!panel || panel.dataset.done === "true") { return; }
    var url = panel.dataset.statusUrl;
    var phase = panel.dataset.phase;
    function text(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value == null ? "" : value; } }
    function score(v) { return v == null ? "" : Number(v).toFixed(1); }
    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          text("status", s.status);
          text("phase", "(" + s.phase + ")");
          text("stage", s.stage);
          text("percent", s.percent == null ? "" : Math.round(s.percent) + " %");
          var bar = document.getElementById("percent-bar"); if (bar) { bar.value = s.percent || 0; }
          text("eta", s.eta);
          text("message", s.done ? s.message : (s.progressMessage || s.message));
          text("scores", (s.sqs == null && s.dps == null) ? "" : score(s.sqs) + " / " + score(s.dps));
          var status = document.getElementById("status"); if (status) { status.className = "status " + s.status; }
          if (s.done || s.phase !== phase) { window.location.reload(); return; }
          window.setTimeout(poll, 3000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, 3000);
  });
})();
