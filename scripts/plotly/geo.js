// plotly.js bundle "geo": core (scatter) + bar, choropleth. Built by scripts/build_plotly_bundle.sh.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/choropleth'),
]);

module.exports = Plotly;
