#!/bin/sh
# Builds the partial plotly.js bundles served from static/vendor/plotly/, from the npm registry,
# reproducibly: exact versions in package.json, every package's hash in package-lock.json
# (`npm ci` installs exactly those), and esbuild's output is deterministic for the same input.
#
#     sh scripts/build_plotly_bundle.sh        (or: npm run build:plotly)
#
# One bundle per set of trace types a page draws (scripts/plotly/<name>.js lists them); charts.js
# picks the smallest bundle that covers the figures on the page. Each bundle has plotly.js's core
# (scatter, the cartesian axes, legend, hover, modebar and PNG export); plotly.js 4.1.1 is the
# version the Python package plotly 7.1 writes figures for. Needs node >= 20 and npm (npm warns
# that plotly.js 4 asks for node >= 22, which its own build tooling needs; esbuild does not).
set -eu
cd "$(dirname "$0")/.."

npm ci --ignore-scripts --no-audit --no-fund >/dev/null

OUT=static/vendor/plotly
version=$(node -p "require('plotly.js/package.json').version")
for entry in scripts/plotly/*.js; do
    name=$(basename "$entry" .js)
    # Same settings as plotly.js's own build (esbuild-config.js): an IIFE defining window.Plotly,
    # `global` as window, no AMD. CSS is only imported by the map (maplibre) traces, which no
    # bundle here includes. Licence comments of every bundled package are kept at the end.
    node_modules/.bin/esbuild "$entry" --bundle --minify --format=iife --global-name=Plotly \
        --define:global=window --define:define.amd=false --loader:.css=empty --target=es2016 \
        --legal-comments=eof --log-level=warning --outfile="$OUT/plotly-$name.min.js"
done

echo "plotly.js $version bundles in $OUT:"
for file in "$OUT"/plotly-*.min.js; do
    echo "  $(sha256sum "$file" | cut -c1-16)  $(wc -c <"$file") bytes  $file"
done
