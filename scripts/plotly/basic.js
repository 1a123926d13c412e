// plotly.js bundle "basic": core (scatter) + bar. Built by scripts/build_plotly_bundle.sh.
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
]);

module.exports = Plotly;
