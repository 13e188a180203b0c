// /docs (web/docs.py): Swagger UI over simkeep's OpenAPI, from the vendored bundle; no inline script, no CDN.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,  // the public validator would send the schema to swagger.io
  presets: [SwaggerUIBundle.presets.apis],
});
