// The Fleet page: the header checkbox selects (or clears) every instance on the page.
// Loaded with <script src>: the Content-Security-Policy forbids inline scripts and handlers.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var toggle = event.target;
    if (!toggle || !toggle.matches || !toggle.matches("[data-select-all]")) {
      return;
    }
    var name = toggle.getAttribute("data-select-all");
    var form = toggle.form || document;
    form.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
      box.checked = toggle.checked;
    });
  });
})();
