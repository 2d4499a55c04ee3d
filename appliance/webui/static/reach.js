// Outside access: show only the fields the choice needs, and follow a certificate attempt live.
(function () {
  "use strict";

  function fieldBox(name) {
    var input = document.querySelector("[name='" + name + "']");
    return input ? input.closest(".field") : null;
  }
  function checked(name) {
    var el = document.querySelector("[name='" + name + "']:checked");
    return el ? el.value : null;
  }

  document.querySelectorAll("[data-reach-form]").forEach(function (form) {
    function update() {
      var mode = checked("reach_mode") || "lan";
      var challenge = checked("acme_challenge") || "http-01";
      var provider = checked("reach_dns_provider") || "none";
      var needsProvider = mode === "dyndns" || (mode === "domain" && challenge === "dns-01");
      var show = {
        reach_domain: mode !== "lan",
        acme_challenge: mode === "domain",
        reach_dns_provider: needsProvider,
        dns_token: needsProvider && provider !== "none"
      };
      Object.keys(show).forEach(function (name) {
        var box = fieldBox(name);
        if (box) box.hidden = !show[name];
      });
      var note = form.querySelector("[data-token-note]");
      if (note) note.hidden = !show.dns_token;
    }
    form.addEventListener("change", update);
    update();
  });

  // A running attempt: its steps as they happen; the page reloads when it ends.
  document.querySelectorAll("[data-reach-status]").forEach(function (card) {
    if (card.getAttribute("data-running") !== "yes") return;
    var url = card.getAttribute("data-reach-status");
    var box = card.querySelector("[data-progress]");
    var list = card.querySelector("[data-steps]");
    function poll() {
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (status) {
          if (box) box.hidden = false;
          if (list) {
            list.textContent = "";
            status.steps.forEach(function (text) {
              var li = document.createElement("li");
              li.textContent = text;
              list.appendChild(li);
            });
          }
          if (!status.running) { window.location.reload(); return; }
          setTimeout(poll, 800);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 300);
  });

  // The self-test takes a few seconds: say so on the button.
  document.querySelectorAll("[data-busy-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; button.textContent = "Testing…"; }
    });
  });
})();
