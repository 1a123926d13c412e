// Draws every chart of the page from the figure JSON embedded with json_script.
// No inline script, no eval (CSP script-src 'self'): plotly.js and the map topojson are our
// own static files, so nothing is fetched from another origin.
//
// plotly.js comes as partial bundles (scripts/build_plotly_bundle.sh, one entry per bundle in
// scripts/plotly/): this script reads the trace types of the page's figures and loads the
// smallest bundle that has them all, so a page without a map does not download the map's code.
// The bundles' URLs (hashed, cached for good) are data attributes of this script's own tag.
(function () {
  "use strict";

  // Smallest first; every bundle also has plotly.js's core (scatter, axes, legend, hover, modebar).
  var BUNDLES = [
    { name: "basic", traces: ["bar", "scatter"] },
    { name: "sankey", traces: ["bar", "scatter", "sankey"] },
    { name: "geo", traces: ["bar", "scatter", "choropleth"] },
    { name: "full", traces: ["bar", "scatter", "choropleth", "sankey"] }
  ];
  var GEO_TRACES = ["choropleth", "scattergeo"];
  var script = document.currentScript;

  function bundleFor(types) {
    for (var i = 0; i < BUNDLES.length; i++) {
      var traces = BUNDLES[i].traces;
      if (types.every(function (t) { return traces.indexOf(t) >= 0; })) { return BUNDLES[i].name; }
    }
    return "full";  // an unknown type: Plotly says so in the console, the tables still hold the numbers
  }

  function load(src) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = src;
      tag.onload = resolve;
      tag.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(tag);
    });
  }

  // The world map's topojson under its hashed (cacheable) name, fetched alongside the bundle and
  // handed to Plotly, which would otherwise fetch it itself after the bundle (config.topojsonURL
  // stays the fallback, also our own static folder).
  function preloadWorld(url) {
    window.PlotlyGeoAssets = window.PlotlyGeoAssets || { topojson: {} };
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (world) { if (world) { window.PlotlyGeoAssets.topojson.world_110m = world; } })
      .catch(function () { return null; });
  }

  // On a narrow chart (a phone), long titles wrap instead of being cut: the main title breaks at
  // a space, the small second line (sources, computed) puts each part on a line of its own.
  var NARROW_PX = 600;
  function wrapLine(text, maxChars) {
    var words = text.split(" "), lines = [], line = "";
    words.forEach(function (word) {
      if (line && (line + " " + word).length > maxChars) { lines.push(line); line = word; } else { line = line ? line + " " + word : word; }
    });
    if (line) { lines.push(line); }
    return lines;
  }
  function fitTitle(el, layout) {
    var title = layout.title && layout.title.text;
    if (!title || el.clientWidth >= NARROW_PX) { return layout; }
    var maxChars = Math.max(24, Math.floor(el.clientWidth / 8.5));
    var parts = title.split("<br>");
    var lines = wrapLine(parts[0], maxChars);
    var sub = parts.slice(1).join(" ").replace(/<\/?sup>/g, "");
    var subLines = [];
    sub.split(" · ").forEach(function (piece) { if (piece) { subLines = subLines.concat(wrapLine(piece, Math.floor(maxChars * 1.4))); } });
    var text = lines.join("<br>") + (subLines.length ? "<br><sup>" + subLines.join("<br>") + "</sup>" : "");
    var extra = (lines.length - 1) * 18 + Math.max(0, subLines.length - 1) * 12;
    var margin = Object.assign({}, layout.margin || {});
    margin.t = (margin.t || 70) + extra;
    var height = layout.height ? layout.height + extra : layout.height;
    return Object.assign({}, layout, { title: Object.assign({}, layout.title, { text: text }), margin: margin, height: height });
  }

  // On a narrow chart, the names beside horizontal bars ("Democratic Republic of the Congo",
  // "Graphite (synthetic) (refining 2024)") would take most of the width: they break into lines
  // of a dozen characters, so the bars keep most of a phone's width, and the chart grows by a
  // line's height per extra line so the names never overlap.
  var NAME_CHARS = 16, NAME_LINE_PX = 13;
  function fitBarNames(el, figure) {
    if (el.clientWidth >= NARROW_PX) { return figure; }
    var lines = {};
    var traces = figure.data || [];
    var barsAcross = traces.some(function (t) { return t.type === "bar" && t.orientation === "h"; });
    if (!barsAcross) { return figure; }
    // Every trace on those names (the restricted-share markers too), or a name would split in two.
    var data = traces.map(function (trace) {
      if (!Array.isArray(trace.y)) { return trace; }
      var y = trace.y.map(function (name) {
        if (typeof name !== "string" || name.length <= NAME_CHARS) { return name; }
        var wrapped = wrapLine(name, NAME_CHARS);
        lines[name] = wrapped.length;
        return wrapped.join("<br>");
      });
      return Object.assign({}, trace, { y: y });
    });
    var extra = Object.keys(lines).reduce(function (sum, name) { return sum + (lines[name] - 1) * NAME_LINE_PX; }, 0);
    var layout = Object.assign({}, figure.layout);
    if (extra) { layout.height = (layout.height || 450) + extra; }
    return Object.assign({}, figure, { data: data, layout: layout });
  }

  function draw(el, figure) {
    el.textContent = "";  // drop the no-JavaScript fallback text
    figure = fitBarNames(el, figure);
    figure.layout = fitTitle(el, figure.layout || {});
    var config = {
      responsive: true,
      displaylogo: false,
      topojsonURL: el.dataset.topojson,  // our static topojson folder, never the CDN
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      toImageButtonOptions: { format: "png", filename: el.dataset.filename || "lodestone-chart", scale: 2 }
    };
    return window.Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      el.classList.add("is-drawn");
      if (document.body.classList.contains("briefing")) { return printImage(el); }
    });
  }

  // Briefings print: each chart also becomes a PNG <img> (shown by the print stylesheet instead of
  // the interactive plot), made now because the browser's print does not wait for a promise.
  // The width is a printed column's (about 700 px) so the text stays legible on A4.
  function printImage(el) {
    var height = (el._fullLayout && el._fullLayout.height) || 360;
    return window.Plotly.toImage(el, { format: "png", width: 760, height: height, scale: 2 }).then(function (url) {
      var img = document.createElement("img");
      img.className = "chart-print";
      img.alt = el.getAttribute("aria-label") || "chart";
      img.src = url;
      el.parentNode.insertBefore(img, el.nextSibling);
      el.classList.add("has-print-image");
    });
  }

  // One chart after the other, in page order, letting the browser paint in between: the first
  // chart shows as soon as it is drawn instead of when the last one is.
  function drawInTurn(charts) {
    return charts.reduce(function (previous, chart) {
      return previous
        .then(function () { return new Promise(function (resolve) { setTimeout(resolve, 0); }); })
        .then(function () { return draw(chart.el, chart.figure); });
    }, Promise.resolve());
  }

  function init() {
    document.documentElement.classList.add("js");
    var printButtons = document.querySelectorAll(".js-print");
    for (var p = 0; p < printButtons.length; p++) {
      printButtons[p].addEventListener("click", function () { window.print(); });
    }
    var charts = [];
    var types = [];
    var nodes = document.querySelectorAll(".js-chart");
    for (var i = 0; i < nodes.length; i++) {
      var source = document.getElementById(nodes[i].dataset.figure);
      if (!source) { continue; }
      var figure = JSON.parse(source.textContent);
      (figure.data || []).forEach(function (trace) {
        var type = trace.type || "scatter";
        if (types.indexOf(type) < 0) { types.push(type); }
      });
      charts.push({ el: nodes[i], figure: figure });
    }
    if (!charts.length) { return; }

    var bundle = bundleFor(types);
    var key = "plotly" + bundle.charAt(0).toUpperCase() + bundle.slice(1);  // data-plotly-<bundle>
    var waits = [window.Plotly ? Promise.resolve() : load(script.dataset[key])];
    if (types.some(function (t) { return GEO_TRACES.indexOf(t) >= 0; }) && script.dataset.topojsonWorld) {
      waits.push(preloadWorld(script.dataset.topojsonWorld));
    }
    Promise.all(waits).then(function () { return drawInTurn(charts); }).catch(function (error) {
      console.error(error.message);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
