// The execution page's output rows: a Copy button beside each stream. Without this script
// the buttons stay hidden and the output is still there to select. Where the Clipboard API
// is missing or refuses (a page served over plain HTTP to another host), the button selects
// the text instead and says to press Ctrl+C. One listener on the document serves the rows
// execution-live.js fills in later too. Loaded with <script src>: the Content-Security-Policy
// forbids inline scripts.
(function () {
  "use strict";

  var RESET_AFTER_MS = 2000;

  // Screen readers hear the outcome here: the button's own label stays "Copy the ...".
  function announce(text) {
    var status = document.getElementById("copy-status");
    if (!status) {
      status = document.createElement("p");
      status.id = "copy-status";
      status.className = "visually-hidden";
      status.setAttribute("role", "status");
      document.body.append(status);
    }
    status.textContent = text;
  }

  function say(button, text) {
    announce(text);
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    window.clearTimeout(Number(button.getAttribute("data-timer")) || 0);
    var timer = window.setTimeout(function () {
      button.textContent = label;
    }, RESET_AFTER_MS);
    button.setAttribute("data-timer", String(timer));
  }

  function select(element) {
    var selection = window.getSelection();
    if (selection) {
      selection.selectAllChildren(element);
    }
  }

  function copy(button) {
    var stream = button.closest(".ex-stream");
    var text = stream && stream.querySelector("pre");
    if (!text) {
      return;
    }
    var selectInstead = function () {
      select(text);
      say(button, "Selected: press Ctrl+C");
    };
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      selectInstead();
      return;
    }
    navigator.clipboard.writeText(text.textContent).then(function () {
      say(button, "Copied");
    }, selectInstead);
  }

  function start() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button[data-copy]");
      if (button) {
        copy(button);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
