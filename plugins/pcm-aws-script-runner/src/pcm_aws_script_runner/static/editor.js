// The script editor's parameter table: add rows from the <template>, remove rows.
// Loaded with <script src>: the Content-Security-Policy forbids inline scripts and handlers.
(function () {
  "use strict";

  function nextIndex(rows) {
    var highest = -1;
    rows.querySelectorAll("[name$='-name']").forEach(function (input) {
      var match = /^parameters-(\d+)-name$/.exec(input.getAttribute("name") || "");
      if (match) {
        highest = Math.max(highest, parseInt(match[1], 10));
      }
    });
    return highest + 1;
  }

  function addRow() {
    var rows = document.getElementById("parameter-rows");
    var template = document.getElementById("parameter-row-template");
    if (!rows || !template) {
      return;
    }
    var limit = parseInt(rows.getAttribute("data-max-rows") || "50", 10);
    if (rows.querySelectorAll("[data-parameter-row]").length >= limit) {
      return;
    }
    var index = String(nextIndex(rows));
    var fragment = template.content.cloneNode(true);
    fragment.querySelectorAll("[name], [id], [for]").forEach(function (element) {
      ["name", "id", "for"].forEach(function (attribute) {
        var value = element.getAttribute(attribute);
        if (value) {
          element.setAttribute(attribute, value.replace("__INDEX__", index));
        }
      });
    });
    rows.appendChild(fragment);
    var added = rows.querySelector("#parameters-" + index + "-name");
    if (added) {
      added.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    if (target.closest("[data-add-parameter]")) {
      addRow();
      return;
    }
    var remove = target.closest("[data-remove-parameter]");
    if (remove) {
      var row = remove.closest("[data-parameter-row]");
      if (row) {
        row.remove();
      }
    }
  });
})();
