"""First view, without a browser: the plotly.js bundles are the version the Python plotly package
writes figures for, and every trace type the figure builders use is in a bundle charts.js knows.
(What a page loads, compressed and under the JavaScript budget: test_pages.py.)"""

from __future__ import annotations

import json
import re

from plotly.offline import get_plotlyjs_version

from tests.conftest import REPO

VENDOR = REPO / "static" / "vendor" / "plotly"
ENTRIES = REPO / "scripts" / "plotly"


def _entry_traces() -> dict[str, set[str]]:
    """Bundle name -> trace types, from the build's entry files (scatter is in plotly.js's core)."""
    return {
        entry.stem: {"scatter", *re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry.read_text())} - {"core"}
        for entry in sorted(ENTRIES.glob("*.js"))
    }


def test_bundles_are_the_plotly_js_of_the_python_package() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["plotly.js"]
    locked = json.loads((REPO / "package-lock.json").read_text())["packages"]["node_modules/plotly.js"]["version"]
    assert pinned == locked == get_plotlyjs_version()
    bundles = sorted(VENDOR.glob("plotly-*.min.js"))
    assert [b.name for b in bundles] == [f"plotly-{name}.min.js" for name in sorted(_entry_traces())]
    for bundle in bundles:
        assert re.findall(r'\.version="(\d+\.\d+\.\d+)"', bundle.read_text()) == [pinned], bundle.name
    assert not (VENDOR / "plotly.min.js").exists()  # the full 4.8 MB bundle is no longer served


def test_every_trace_type_the_figures_use_is_in_a_bundle_charts_js_knows() -> None:
    used = {name.lower() for name in re.findall(r"\bgo\.(\w+)\(", (REPO / "dashboards" / "figures.py").read_text())}
    used -= {"figure"}
    assert used >= {"bar", "scatter", "choropleth", "sankey"}
    entries = _entry_traces()
    assert used <= entries["full"]
    # charts.js picks among the same bundles, with the same trace lists.
    charts_js = (REPO / "static" / "js" / "charts.js").read_text()
    listed = {
        name: set(re.findall(r'"(\w+)"', traces))
        for name, traces in re.findall(r'\{ name: "(\w+)", traces: \[([^\]]*)\] \}', charts_js)
    }
    assert listed == entries
