// Swagger UI at /docs (server/web/api_docs.py), started as FastAPI's page starts it, with the settings the page
// carries (FastAPI's defaults and the OpenAPI document's URL) instead of an inline script.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("swagger-ui-settings").textContent);
  settings.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  window.ui = SwaggerUIBundle(settings);
})();
