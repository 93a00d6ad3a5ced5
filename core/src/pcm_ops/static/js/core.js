// PCM-Ops core behaviour. Loaded with <script src> on every page: the Content-Security-Policy
// forbids inline scripts and inline event handlers, so behaviour is attached here.
(function () {
  "use strict";

  // Dismiss buttons: <button data-dismiss="flash"> removes its enclosing .flash.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-dismiss]") : null;
    if (!button) {
      return;
    }
    var target = button.closest("." + button.getAttribute("data-dismiss"));
    if (target) {
      target.remove();
    }
  });

  // htmx requests that change state carry the session's CSRF token, read from
  // <meta name="csrf-token"> (present on pages of a logged-in browser session).
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && event.detail.verb !== "get") {
      event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
    }
  });
})();
