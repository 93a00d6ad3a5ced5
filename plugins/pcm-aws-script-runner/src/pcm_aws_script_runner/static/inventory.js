// The Fleet page: the header checkbox selects (or clears) every instance on the page, the
// count of selected instances follows every tick ("3 selected"), and "Run a script on the
// selected instances" is offered only with at least one selected (the run form says so too
// when it gets none). Loaded with <script src>: the Content-Security-Policy forbids inline
// scripts and handlers.
(function () {
  "use strict";

  function boxes(form) {
    return form.querySelectorAll("input[type=checkbox][name='instance_id']");
  }

  function showSelection(form) {
    var count = form.querySelector("#selected-count");
    var button = form.querySelector("#run-selected-button");
    var all = boxes(form);
    var selected = 0;
    all.forEach(function (box) {
      if (box.checked) {
        selected += 1;
      }
    });
    if (count) {
      count.textContent =
        selected === 0 ? count.getAttribute("data-none") : selected + " selected";
    }
    if (button) {
      button.disabled = selected === 0;
    }
    var toggle = form.querySelector("[data-select-all]");
    if (toggle) {
      toggle.checked = all.length > 0 && selected === all.length;
      toggle.indeterminate = selected > 0 && selected < all.length;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || !target.matches || !target.form || target.form.id !== "run-selected") {
      return;
    }
    if (target.matches("[data-select-all]")) {
      boxes(target.form).forEach(function (box) {
        box.checked = target.checked;
      });
    }
    showSelection(target.form);
  });

  function start() {
    var form = document.getElementById("run-selected");
    if (form) {
      // Boxes the browser restored (back button) count too.
      showSelection(form);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
