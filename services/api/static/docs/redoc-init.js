// Starts ReDoc on /openapi.json (fonts are the browser's: nothing is fetched from elsewhere).
Redoc.init("/openapi.json", { hideDownloadButton: false }, document.getElementById("redoc"));
