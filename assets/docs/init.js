// Starts Swagger UI (loaded just before) on the document this server serves. A file of its
// own, not an inline script, so the page's Content-Security-Policy can forbid inline code.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // The default would send the document to an online validator.
  validatorUrl: null,
});
