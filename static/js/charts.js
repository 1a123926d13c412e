// Draws every chart of the page from the figure JSON embedded with json_script.
// No inline script, no eval (CSP script-src 'self'): plotly.js and the map topojson are our
// own static files, so nothing is fetched from another origin.
(function () {
  "use strict";

  function draw(el) {
    var source = document.getElementById(el.dataset.figure);
    if (!source || !window.Plotly) { return; }
    var figure = JSON.parse(source.textContent);
    el.textContent = "";  // drop the no-JavaScript fallback text
    var config = {
      responsive: true,
      displaylogo: false,
      topojsonURL: el.dataset.topojson,  // our static topojson folder, never the CDN
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      toImageButtonOptions: { format: "png", filename: el.dataset.filename || "lodestone-chart", scale: 2 }
    };
    window.Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      el.classList.add("is-drawn");
    });
  }

  function init() {
    document.documentElement.classList.add("js");
    var charts = document.querySelectorAll(".js-chart");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
