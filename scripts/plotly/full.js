// plotly.js bundle "full": core (scatter) + bar, choropleth, sankey. Built by scripts/build_plotly_bundle.sh.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/choropleth'),
    require('plotly.js/lib/sankey'),
]);

module.exports = Plotly;
