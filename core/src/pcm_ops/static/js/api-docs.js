// Starts Swagger UI on /docs. Kept in a file (not inline) for the Content-Security-Policy.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  // eslint-disable-next-line no-undef
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (request) {
      var csrf = root.dataset.csrfToken;
      if (csrf) { request.headers["X-CSRF-Token"] = csrf; }
      return request;
    },
  });
})();
