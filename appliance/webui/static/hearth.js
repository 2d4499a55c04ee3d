// Hearth pages: small progressive enhancements. Everything works without them.
(function () {
  "use strict";

  // Password strength: a rough estimate shown while typing (the server enforces its own minimum).
  var COMMON = ["password", "123456", "qwerty", "letmein", "welcome", "iloveyou", "admin", "hearth", "matrix", "family"];
  function strength(pw) {
    if (!pw) return { score: 0, text: "" };
    var lower = pw.toLowerCase();
    for (var i = 0; i < COMMON.length; i++) {
      if (lower.indexOf(COMMON[i]) !== -1 && pw.length < 16) return { score: 0, text: "Too easy to guess: avoid common words." };
    }
    var kinds = 0;
    if (/[a-z]/.test(pw)) kinds++;
    if (/[A-Z]/.test(pw)) kinds++;
    if (/[0-9]/.test(pw)) kinds++;
    if (/[^A-Za-z0-9]/.test(pw)) kinds++;
    var unique = new Set(pw).size;
    var bits = pw.length * Math.log2(Math.max(10, kinds * 16)) * Math.min(1, unique / 6);
    if (pw.length < 10) return { score: 1, text: "Too short: use at least 10 characters." };
    if (bits < 55) return { score: 2, text: "Fair. A few more words would make it strong." };
    if (bits < 75) return { score: 3, text: "Good." };
    return { score: 4, text: "Strong." };
  }
  document.querySelectorAll("input[data-strength-meter]").forEach(function (input) {
    var meter = document.querySelector('[data-meter-for="' + input.id + '"]');
    if (!meter) return;
    var bar = meter.querySelector(".meter-bar span");
    var label = meter.querySelector(".meter-text");
    function update() {
      var s = strength(input.value);
      meter.hidden = !input.value;
      meter.setAttribute("data-score", String(s.score));
      bar.style.width = (s.score === 0 ? 8 : s.score * 25) + "%";
      label.textContent = s.text;
    }
    input.addEventListener("input", update);
    update();
  });

  // Copy buttons: data-copy="id of an input or element".
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = !navigator.clipboard;
    button.addEventListener("click", function () {
      var el = document.getElementById(button.getAttribute("data-copy"));
      var text = el.value !== undefined ? el.value : el.textContent;
      navigator.clipboard.writeText(text.trim()).then(function () {
        var old = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = old; }, 1500);
      });
    });
  });

  // Share buttons (phones): data-share-text / data-share-url.
  document.querySelectorAll("[data-share-url]").forEach(function (button) {
    button.hidden = !navigator.share;
    button.addEventListener("click", function () {
      navigator.share({ title: "Join us on Hearth", text: button.getAttribute("data-share-text") || "",
                        url: button.getAttribute("data-share-url") }).catch(function () {});
    });
  });

  // Forms that take a moment: show their checklist advancing while the server works.
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var list = document.getElementById(form.getAttribute("data-progress"));
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      if (!list) return;
      list.hidden = false;
      var items = list.querySelectorAll("li");
      var i = 0;
      function next() {
        if (i > 0) { items[i - 1].className = "done"; items[i - 1].querySelector(".tick").textContent = "✓"; }
        if (i < items.length) { items[i].className = "running"; i++; setTimeout(next, 450); }
      }
      next();
    });
  });
})();
