// Backups and restores: follow a running job, and wait for the server to come back after a restore.
(function () {
  "use strict";

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); });
  }

  // A running backup or restore: progress from its status endpoint; the page reloads when it ends.
  document.querySelectorAll("[data-job-status]").forEach(function (box) {
    var url = box.getAttribute("data-job-status");
    var bar = box.querySelector("[data-job-bar]");
    var percent = box.querySelector("[data-job-percent]");
    var phase = box.querySelector("[data-job-phase]");
    function poll() {
      getJSON(url).then(function (job) {
        if (bar) bar.value = job.percent;
        if (percent) percent.textContent = job.percent + "%";
        if (phase) phase.textContent = job.phase;
        if (job.state !== "running") { window.location.reload(); return; }
        setTimeout(poll, 700);
      }).catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 400);
  });

  // After a restore: the server restarts; a new boot ID means it is back on the restored data.
  document.querySelectorAll("[data-wait-restart]").forEach(function (box) {
    var oldBoot = box.getAttribute("data-wait-restart");
    var waiting = box.querySelector("[data-restart-waiting]");
    var done = box.querySelector("[data-restart-done]");
    function poll() {
      getJSON("/restore/state.json").then(function (state) {
        if (state.boot && state.boot !== oldBoot) {
          if (waiting) waiting.hidden = true;
          if (done) done.hidden = false;
          return;
        }
        setTimeout(poll, 1000);
      }).catch(function () { setTimeout(poll, 1000); });
    }
    setTimeout(poll, 1000);
  });

  // A refused restore is at the bottom of a long page: bring its message into view.
  var refused = document.querySelector("#restore .alert-error");
  if (refused) refused.scrollIntoView({ block: "center" });

  // Uploading a large backup takes a while: say so, and do not send it twice.
  document.querySelectorAll("form[data-upload-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var note = form.querySelector("[data-upload-note]");
      if (note) note.hidden = false;
      setTimeout(function () { form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; }); }, 0);
    });
  });
})();
