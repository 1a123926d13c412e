"""Property test over the pure risk functions (issue 11): a missing input never yields 0.

It yields None, or a bound (``china_share_upper``), whatever the other inputs are.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards import risk

COUNTRIES = ["CHN", "COD", "IDN", "AUS", "RUS", "USA"]
# Zero or a realistic magnitude (a subnormal world total would overflow any share to inf).
quantity = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=1e9))
maybe_quantity = st.one_of(st.none(), quantity)


@st.composite
def production_tables(draw: st.DrawFn) -> tuple[list[risk.ProductionFigure], float | None, float | None]:
    countries = draw(st.lists(st.sampled_from(COUNTRIES), unique=True, max_size=len(COUNTRIES)))
    figures = []
    for country in countries:
        value = draw(maybe_quantity)
        withheld = value is None and draw(st.booleans())
        figures.append(risk.ProductionFigure(country, value, withheld=withheld))
    return figures, draw(maybe_quantity), draw(maybe_quantity)


@settings(max_examples=300, deadline=None)
@given(production_tables())
def test_china_unknown_or_absent_never_gives_zero(
    table: tuple[list[risk.ProductionFigure], float | None, float | None],
) -> None:
    figures, world_total, residual = table
    result = risk.supply_concentration(figures, world_total, residual=residual)
    china = next((f for f in figures if f.country == "CHN"), None)
    if china is None or not china.known:
        assert result.china_share is None
        assert result.complete is False
        if result.china_share_upper is not None:
            assert china is None
            assert residual is not None
    for country, share in result.country_shares:
        figure = next(f for f in figures if f.country == country)
        if not figure.known:
            assert share is None


@settings(max_examples=300, deadline=None)
@given(maybe_quantity, maybe_quantity, maybe_quantity)
def test_net_import_reliance_missing_input_is_none(
    production: float | None, imports: float | None, exports: float | None
) -> None:
    result = risk.net_import_reliance(production, imports, exports)
    if None in (production, imports, exports):
        assert result is None
        assert risk.nir_unknown_reason(production, imports, exports, has_trade=True)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.floats(min_value=0, max_value=100)), st.sampled_from(["", ">", "<"]), st.booleans())
def test_published_nir_missing_is_none_unless_net_exporter(value: float | None, bound: str, withheld: bool) -> None:
    result = risk.published_import_reliance(value, bound=bound, withheld=withheld, net_exporter=False)
    if value is None or withheld:
        assert result is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(COUNTRIES)), st.floats(min_value=0.01, max_value=1e9), maybe_quantity
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_flow_without_quantity_makes_quantity_shares_unknown(
    rows: list[tuple[str | None, float, float | None]],
) -> None:
    result = risk.import_dependence([risk.ImportFlow(e, v, q) for e, v, q in rows])
    if any(q is None for _, _, q in rows):
        assert result.total_quantity_kg is None
        assert result.import_china_share_by_quantity is None
        assert result.import_hhi_by_quantity is None
    if result.import_coverage is not None and result.import_coverage < risk.IMPORT_HHI_MIN_COVERAGE:
        assert result.import_hhi is None
