"""Tests for dashboards/risk.py: every expected value is computed by hand in a comment."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards.risk import (
    AlternativeSource,
    Exposure,
    FacilityNode,
    ImportFlow,
    Link,
    Measure,
    ProductionFigure,
    SourcingLine,
    Stake,
    buyer_exposure,
    controlled_companies,
    country_severity,
    effective_ownership,
    hhi_band,
    import_dependence,
    in_force,
    is_stale,
    is_suspended,
    measure_severity,
    needs_review,
    net_import_reliance,
    rank_alternatives,
    ranked_partner_shares,
    restricted_import_share,
    restricted_share,
    restricted_supply_share,
    restriction_breakdown,
    supply_concentration,
    supply_network,
    supply_risk,
    trade_factor,
    wgi_score,
)

AS_OF = date(2026, 1, 15)


def _measure(
    key: str = "m1",
    issuer: str = "CHN",
    measure_type: str = "export_licence",
    minerals: frozenset[str] = frozenset({"gallium"}),
    targets: frozenset[str] = frozenset(),
    effective_on: date | None = date(2023, 8, 1),
    suspended_from: date | None = None,
    suspended_until: date | None = None,
    ended_on: date | None = None,
    severity_override: float | None = None,
    reviewed_on: date | None = None,
) -> Measure:
    return Measure(
        key=key,
        issuer=issuer,
        measure_type=measure_type,
        minerals=minerals,
        targets=targets,
        effective_on=effective_on,
        suspended_from=suspended_from,
        suspended_until=suspended_until,
        ended_on=ended_on,
        severity_override=severity_override,
        reviewed_on=reviewed_on,
    )


# --------------------------------------------------------------------------------------------
# 1. Supply concentration


def test_gallium_2024_china_share_is_0_987() -> None:
    # MCS 2025, gallium primary production 2024 (kg): China 750,000; world total 760,000.
    # 750,000 / 760,000 = 0.986842... -> 0.987
    figures = [
        ProductionFigure("CHN", 750_000),
        ProductionFigure("JPN", 3_000),
        ProductionFigure("KOR", 2_000),
        ProductionFigure("RUS", 5_000),
    ]
    result = supply_concentration(figures, world_total=760_000)
    assert result.world_total_source == "published"
    assert result.china_share == pytest.approx(750_000 / 760_000)
    assert round(result.china_share or 0.0, 3) == 0.987
    # feoc = (750,000 + 5,000) / 760,000 = 0.993421
    assert result.feoc_share == pytest.approx(0.993421, abs=1e-6)
    assert result.complete is True


def test_world_total_missing_uses_sum_of_countries() -> None:
    # W = 60 + 30 + 10 = 100; p_CHN = 0.6; coverage = 100 / 100 = 1
    result = supply_concentration(
        [ProductionFigure("CHN", 60), ProductionFigure("AUS", 30), ProductionFigure("USA", 10)]
    )
    assert result.world_total == 100
    assert result.world_total_source == "sum_of_countries"
    assert result.china_share == pytest.approx(0.6)
    assert result.coverage == pytest.approx(1.0)


def test_zero_published_world_total_falls_back_to_sum() -> None:
    result = supply_concentration([ProductionFigure("CHN", 3), ProductionFigure("AUS", 1)], world_total=0)
    # W = 3 + 1 = 4; p_CHN = 0.75
    assert result.world_total_source == "sum_of_countries"
    assert result.china_share == pytest.approx(0.75)


def test_residual_other_countries_counts_in_world_total_but_not_as_a_country() -> None:
    # W = 60 + 20 + residual 20 = 100; coverage = 80 / 100; top3 = 0.6 + 0.2 (two countries)
    # hhi = 10,000 * (0.36 + 0.04) = 4,000 (residual excluded)
    result = supply_concentration([ProductionFigure("CHN", 60), ProductionFigure("AUS", 20)], residual=20)
    assert result.world_total == 100
    assert result.coverage == pytest.approx(0.8)
    assert result.residual_share == pytest.approx(0.2)
    assert result.top3_share == pytest.approx(0.8)
    assert result.hhi == pytest.approx(4_000)


def test_published_world_total_with_partial_coverage() -> None:
    # W = 200 published; rows 100 + 50 -> coverage 0.75; p_CHN = 0.5, p_AUS = 0.25
    result = supply_concentration([ProductionFigure("CHN", 100), ProductionFigure("AUS", 50)], world_total=200)
    assert result.coverage == pytest.approx(0.75)
    assert result.shares == {"CHN": pytest.approx(0.5), "AUS": pytest.approx(0.25)}


def test_withheld_value_is_unknown_never_zero() -> None:
    # W = 100; USA withheld. p_CHN = 0.5, p_AUS = 0.3, p_USA unknown.
    # top3 over known = 0.8; hhi over known = 10,000 * (0.25 + 0.09) = 3,400
    figures = [
        ProductionFigure("CHN", 50),
        ProductionFigure("AUS", 30),
        ProductionFigure("USA", None, withheld=True),
    ]
    result = supply_concentration(figures, world_total=100)
    assert result.shares["USA"] is None
    assert result.country_shares[-1] == ("USA", None)
    assert result.withheld_countries == ("USA",)
    assert result.complete is False
    assert result.china_share == pytest.approx(0.5)
    assert result.top3_share == pytest.approx(0.8)
    assert result.hhi == pytest.approx(3_400)


def test_withheld_flag_wins_over_a_quantity() -> None:
    result = supply_concentration([ProductionFigure("CHN", 50, withheld=True), ProductionFigure("AUS", 50)])
    assert result.china_share is None
    assert result.withheld_countries == ("CHN",)


def test_china_withheld_gives_unknown_china_share_and_partial_feoc() -> None:
    # W = 100; CHN withheld; feoc over known = p_RUS = 10 / 100 = 0.1
    figures = [ProductionFigure("CHN", None, withheld=True), ProductionFigure("RUS", 10), ProductionFigure("AUS", 40)]
    result = supply_concentration(figures, world_total=100)
    assert result.china_share is None
    assert result.feoc_share == pytest.approx(0.1)
    assert result.complete is False


def test_missing_quantity_without_withheld_flag_is_also_unknown() -> None:
    result = supply_concentration([ProductionFigure("COD", None), ProductionFigure("AUS", 10)], world_total=20)
    assert result.shares["COD"] is None
    # Unknown, but not withheld: "not published" (NA or empty), shown differently (issue 11).
    assert result.withheld_countries == ()
    assert result.unpublished_countries == ("COD",)


def test_china_not_listed_is_unknown_not_zero() -> None:
    result = supply_concentration([ProductionFigure("AUS", 10)], world_total=20)
    assert result.china_share is None
    assert result.china_share_upper is None
    assert result.complete is False


def test_no_usable_total_is_unknown() -> None:
    result = supply_concentration([ProductionFigure("CHN", None, withheld=True)])
    assert result.unknown is True
    assert result.world_total is None
    assert result.china_share is None
    assert result.hhi is None
    assert result.hhi_band is None


def test_bounded_values_are_used_and_listed() -> None:
    result = supply_concentration([ProductionFigure("CHN", 90, bound=">"), ProductionFigure("AUS", 10)])
    assert result.china_share == pytest.approx(0.9)
    assert result.bounded_countries == ("CHN",)


def test_duplicate_country_rows_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        supply_concentration([ProductionFigure("CHN", 1), ProductionFigure("CHN", 2)])


def test_top3_and_hhi_over_five_producers() -> None:
    # W = 100: shares 0.4, 0.3, 0.1, 0.1, 0.1 -> top3 = 0.8
    # hhi = 10,000 * (0.16 + 0.09 + 0.01 * 3) = 2,800 -> high
    figures = [ProductionFigure(c, q) for c, q in [("CHN", 40), ("AUS", 30), ("USA", 10), ("MMR", 10), ("BRA", 10)]]
    result = supply_concentration(figures)
    assert result.top3_share == pytest.approx(0.8)
    assert result.hhi == pytest.approx(2_800)
    assert result.hhi_band == "high"
    assert result.country_shares[0] == ("CHN", pytest.approx(0.4))


@pytest.mark.parametrize(
    ("hhi", "band"),
    [(0, "low"), (1_499.99, "low"), (1_500, "moderate"), (2_500, "moderate"), (2_500.01, "high"), (10_000, "high")],
)
def test_hhi_bands(hhi: float, band: str) -> None:
    assert hhi_band(hhi) == band


def test_four_equal_producers_are_moderate() -> None:
    # hhi = 10,000 * 4 * 0.25^2 = 2,500 -> moderate (boundary belongs to moderate)
    result = supply_concentration([ProductionFigure(c, 25) for c in ("AUS", "CHN", "USA", "CAN")])
    assert result.hhi == pytest.approx(2_500)
    assert result.hhi_band == "moderate"


# --------------------------------------------------------------------------------------------
# 2. Import dependence


def test_hong_kong_counts_with_china_in_imports() -> None:
    # V = 50 + 20 + 30 = 100; China group = 50 + 20 = 70 -> 0.7
    # hhi = 10,000 * (0.49 + 0.09) = 5,800
    flows = [ImportFlow("CHN", 50), ImportFlow("HKG", 20), ImportFlow("DEU", 30)]
    result = import_dependence(flows)
    assert result.import_china_share == pytest.approx(0.7)
    assert result.top_import_sources == (("CHN", pytest.approx(0.7)), ("DEU", pytest.approx(0.3)))
    assert result.import_hhi == pytest.approx(5_800)
    assert result.import_hhi_band == "high"


def test_china_group_is_a_parameter() -> None:
    flows = [ImportFlow("CHN", 50), ImportFlow("HKG", 20), ImportFlow("DEU", 30)]
    result = import_dependence(flows, china_group=frozenset({"CHN"}))
    assert result.import_china_share == pytest.approx(0.5)
    assert dict(result.partner_shares)["HKG"] == pytest.approx(0.2)


def test_unknown_partner_lowers_coverage_and_is_not_a_source() -> None:
    # V = 60 + 40 = 100; known = 60 -> coverage 0.6; p_CHN = 0.6; the HHI is unknown below
    # 90 % coverage (the unknown 40 could be one partner or many: 3,600 to 5,200).
    result = import_dependence([ImportFlow("CHN", 60), ImportFlow(None, 40)])
    assert result.import_coverage == pytest.approx(0.6)
    assert result.import_china_share == pytest.approx(0.6)
    assert result.import_hhi is None
    assert result.import_hhi_band is None
    assert result.top_import_sources == (("CHN", pytest.approx(0.6)),)


def test_feoc_import_share_includes_china_group() -> None:
    # RUS 10 + CHN 20 + MAC 10 = 40 of 100 -> 0.4
    flows = [ImportFlow("RUS", 10), ImportFlow("CHN", 20), ImportFlow("MAC", 10), ImportFlow("CAN", 60)]
    assert import_dependence(flows).import_feoc_share == pytest.approx(0.4)


def test_import_shares_by_quantity_where_quantities_exist() -> None:
    # by value: CHN 50 / 200 = 0.25. Quantities: CHN 100 kg, DEU 300 kg, JPN 100 kg.
    # by quantity: 100 / 500 = 0.2 for CHN, 0.6 for DEU; hhi = 10,000 * (0.04 + 0.36 + 0.04)
    flows = [ImportFlow("CHN", 50, 100), ImportFlow("DEU", 50, 300), ImportFlow("JPN", 100, 100)]
    result = import_dependence(flows)
    assert result.import_china_share == pytest.approx(0.25)
    assert result.total_quantity_kg == pytest.approx(500)
    assert result.import_china_share_by_quantity == pytest.approx(0.2)
    assert result.top_import_sources_by_quantity[0] == ("DEU", pytest.approx(0.6))
    assert result.import_hhi_by_quantity == pytest.approx(4_400)
    assert result.quantity_coverage == pytest.approx(1.0)
    # JPN without quantity: the total quantity is unknown, so every quantity share is (issue 11);
    # quantity_coverage = value with quantity (50 + 50) / 200 = 0.5 says how much was reported.
    partial = import_dependence([*flows[:2], ImportFlow("JPN", 100)])
    assert partial.total_quantity_kg is None
    assert partial.import_china_share_by_quantity is None
    assert partial.import_hhi_by_quantity is None
    assert partial.quantity_coverage == pytest.approx(0.5)


def test_no_quantities_gives_unknown_quantity_shares() -> None:
    result = import_dependence([ImportFlow("CHN", 10)])
    assert result.total_quantity_kg is None
    assert result.import_china_share_by_quantity is None


def test_top_import_sources_limited_to_top_n() -> None:
    flows = [ImportFlow(c, v) for c, v in [("CHN", 40), ("DEU", 30), ("JPN", 20), ("CAN", 10)]]
    assert [c for c, _ in import_dependence(flows, top_n=2).top_import_sources] == ["CHN", "DEU"]


def test_no_imports_gives_unknown_shares() -> None:
    result = import_dependence([])
    assert result.total_value_usd == 0
    assert result.import_china_share is None
    assert result.import_coverage is None
    assert result.import_hhi is None


def test_net_import_reliance() -> None:
    # (100 - 20) / (20 + 100 - 20) = 80 / 100
    assert net_import_reliance(20, 100, 20) == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("production", "imports", "exports", "expected"),
    [
        (100, 10, 30, 0.0),  # (10 - 30) / 80 = -0.25 -> clamped to 0
        (-5, 10, 0, 1.0),  # stock release recorded as negative output: 10 / 5 = 2 -> clamped to 1
        (0, 10, 10, None),  # consumption 0 -> undefined
        (0, 5, 10, None),  # consumption -5 -> undefined
        (None, 10, 0, None),
        (10, None, 0, None),
        (10, 10, None, None),
    ],
)
def test_net_import_reliance_clamping_and_unknowns(
    production: float | None, imports: float | None, exports: float | None, expected: float | None
) -> None:
    assert net_import_reliance(production, imports, exports) == expected


# --------------------------------------------------------------------------------------------
# 3. Policy exposure


def test_in_force_from_effective_date_until_ended() -> None:
    measure = _measure(effective_on=date(2023, 8, 1), ended_on=date(2025, 1, 1))
    assert not in_force(measure, date(2023, 7, 31))
    assert in_force(measure, date(2023, 8, 1))
    assert in_force(measure, date(2024, 12, 31))
    assert not in_force(measure, date(2025, 1, 1))  # ended_on <= as_of means ended


def test_announced_measure_without_effective_date_is_not_in_force() -> None:
    assert not in_force(_measure(effective_on=None), AS_OF)


def test_suspended_until_includes_its_last_day() -> None:
    # MOFCOM: clause 2 of Ann. 46 "suspended until 27 November 2026": the 27th is still suspended.
    measure = _measure(suspended_from=date(2025, 11, 9), suspended_until=date(2026, 11, 27))
    assert in_force(measure, date(2025, 11, 8))  # before the window
    assert is_suspended(measure, date(2025, 11, 9))  # first day included
    assert not in_force(measure, date(2026, 1, 1))  # inside the window
    assert is_suspended(measure, date(2026, 11, 27))  # last day included
    assert not in_force(measure, date(2026, 11, 27))
    assert not needs_review(measure, date(2026, 11, 27))
    assert not is_suspended(measure, date(2026, 11, 28))  # D + 1: applies again
    assert in_force(measure, date(2026, 11, 28))
    assert needs_review(measure, date(2026, 11, 28))


def test_october_package_suspended_until_10_november_applies_again_on_the_11th() -> None:
    measure = _measure(
        effective_on=date(2025, 11, 8), suspended_from=date(2025, 11, 7), suspended_until=date(2026, 11, 10)
    )
    assert is_suspended(measure, date(2026, 11, 10))
    assert not in_force(measure, date(2026, 11, 10))
    assert in_force(measure, date(2026, 11, 11))
    assert needs_review(measure, date(2026, 11, 11))


def test_open_ended_suspension() -> None:
    measure = _measure(suspended_from=date(2025, 1, 1))
    assert not in_force(measure, date(2030, 1, 1))
    assert not needs_review(measure, date(2030, 1, 1))


def test_expired_suspension_is_back_in_force_and_needs_review() -> None:
    measure = _measure(suspended_from=date(2025, 5, 14), suspended_until=date(2025, 8, 12))
    as_of = date(2025, 9, 1)
    assert in_force(measure, as_of)
    assert needs_review(measure, as_of)
    assert not needs_review(measure, date(2025, 6, 1))  # still suspended: nothing to review
    reviewed = _measure(
        suspended_from=date(2025, 5, 14), suspended_until=date(2025, 8, 12), reviewed_on=date(2025, 8, 20)
    )
    assert not needs_review(reviewed, as_of)
    ended = _measure(suspended_from=date(2025, 5, 14), suspended_until=date(2025, 8, 12), ended_on=date(2025, 8, 12))
    assert not needs_review(ended, as_of)
    assert not in_force(ended, as_of)


@pytest.mark.parametrize(
    ("measure_type", "severity"),
    [
        ("export_ban", 1.0),
        ("export_quota", 0.4),
        ("export_licence", 0.2),
        ("export_tax", 0.2),
        ("extraterritorial_rule", 0.2),
        ("technology_export_ban", 0.0),
        ("domestic_support", 0.0),
    ],
)
def test_default_severities(measure_type: str, severity: float) -> None:
    assert measure_severity(_measure(measure_type=measure_type)) == severity


def test_severity_overrides_per_type_and_per_measure() -> None:
    quota = _measure(measure_type="export_quota")
    assert measure_severity(quota, {"export_quota": 0.6}) == 0.6
    assert measure_severity(_measure(measure_type="export_quota", severity_override=0.9), {"export_quota": 0.6}) == 0.9


def test_unknown_measure_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="no severity"):
        measure_severity(_measure(measure_type="embargo_maybe"))


def test_destination_specific_ban_applies_only_to_targets() -> None:
    # China's Dec 2024 gallium ban on the USA: 1.0 for USA, 0 for DEU.
    ban = _measure(
        key="mofcom-46", measure_type="export_ban", targets=frozenset({"USA"}), effective_on=date(2024, 12, 3)
    )
    shares = {"CHN": 0.987, "JPN": 0.013}
    assert restricted_share(shares, [ban], mineral="gallium", destination="USA", as_of=AS_OF) == pytest.approx(0.987)
    assert restricted_share(shares, [ban], mineral="gallium", destination="DEU", as_of=AS_OF) == 0.0


def test_max_severity_per_country_not_sum() -> None:
    # CHN: licence 0.2 (all destinations) and ban 1.0 (USA). USA: 0.6 * max(0.2, 1.0) = 0.6
    # DEU: 0.6 * 0.2 = 0.12
    measures = [
        _measure(key="licence"),
        _measure(key="ban", measure_type="export_ban", targets=frozenset({"USA"})),
    ]
    shares = {"CHN": 0.6, "AUS": 0.4}
    assert restricted_supply_share(
        shares, measures, mineral="gallium", destination="USA", as_of=AS_OF
    ) == pytest.approx(0.6)
    assert restricted_supply_share(
        shares, measures, mineral="gallium", destination="DEU", as_of=AS_OF
    ) == pytest.approx(0.12)


def test_restricted_share_sums_over_countries() -> None:
    # CHN 0.6 * licence 0.2 + RUS 0.1 * quota 0.4 + AUS 0.3 * 0 = 0.12 + 0.04 = 0.16
    measures = [_measure(key="chn"), _measure(key="rus", issuer="RUS", measure_type="export_quota")]
    result = restricted_import_share(
        {"CHN": 0.6, "RUS": 0.1, "AUS": 0.3}, measures, mineral="gallium", destination="USA", as_of=AS_OF
    )
    assert result == pytest.approx(0.16)


def test_restricted_share_ignores_other_minerals_suspended_and_own_country() -> None:
    measures = [
        _measure(key="germanium-only", minerals=frozenset({"germanium"})),
        _measure(key="suspended", suspended_from=date(2025, 11, 9), suspended_until=date(2026, 11, 27)),
        _measure(key="us-own", issuer="USA", measure_type="export_ban"),
        _measure(key="us-support", issuer="USA", measure_type="domestic_support"),
    ]
    shares = {"CHN": 0.5, "USA": 0.5}
    assert restricted_share(shares, measures, mineral="gallium", destination="USA", as_of=AS_OF) == 0.0
    assert country_severity(measures, "USA", "gallium", "USA", AS_OF) == 0.0


def test_restriction_breakdown_lists_contributions_review_and_partial() -> None:
    # Known shares: CHN 0.5 (quota 0.4 -> 0.2). USA withheld. Expired suspension on the quota.
    quota = _measure(
        key="quota",
        measure_type="export_quota",
        suspended_from=date(2025, 1, 1),
        suspended_until=date(2025, 6, 1),
    )
    result = restriction_breakdown({"CHN": 0.5, "USA": None}, [quota], mineral="gallium", as_of=AS_OF)
    assert result.share == pytest.approx(0.2)
    assert result.partial is True
    assert result.review_measure_keys == ("quota",)
    (contribution,) = result.contributions
    assert (contribution.country, contribution.severity, contribution.measure_keys) == ("CHN", 0.4, ("quota",))
    assert contribution.restricted == pytest.approx(0.2)


def test_restricted_share_with_no_known_share_is_unknown() -> None:
    assert restricted_share({"CHN": None}, [_measure()], mineral="gallium", as_of=AS_OF) is None


def test_concentration_shares_feed_restricted_supply_share() -> None:
    # gallium: 750,000 / 760,000 * licence 0.2 = 0.197368
    concentration = supply_concentration([ProductionFigure("CHN", 750_000)], world_total=760_000)
    result = restricted_supply_share(concentration.shares, [_measure()], mineral="gallium", as_of=AS_OF)
    assert result == pytest.approx(0.197368, abs=1e-6)


# --------------------------------------------------------------------------------------------
# 4. EU-method supply risk


def test_wgi_score_rescales_to_ten_worst() -> None:
    # mean(0.2, 0.4, 0.6, 0.8, 0.5, 0.5) = 0.5 -> (2.5 - 0.5) * 2 = 4.0
    assert wgi_score([0.2, 0.4, 0.6, 0.8, 0.5, 0.5]) == pytest.approx(4.0)
    assert wgi_score([-2.5]) == pytest.approx(10.0)
    assert wgi_score([2.5]) == pytest.approx(0.0)


def test_trade_factor() -> None:
    assert trade_factor(1.0) == 1.5  # ban
    assert trade_factor(0.2) == pytest.approx(1.1)  # licence
    assert trade_factor(0.0) == 1.0


def test_supply_risk_against_hand_computation() -> None:
    # WGI: CHN mean -0.5 -> 6.0; AUS mean 1.5 -> 2.0; DEU mean 1.25 -> 2.5.
    # t: CHN licence 0.2 -> 1.1; others 1.0.
    # global   = 0.8^2 * 6 * 1.1 + 0.2^2 * 2 = 4.224 + 0.08 = 4.304
    # sourcing = 0.5^2 * 6 * 1.1 + 0.5^2 * 2.5 = 1.65 + 0.625 = 2.275
    # IR = 0.6: 4.304 * 0.3 + 2.275 * 0.7 = 1.2912 + 1.5925 = 2.8837
    # SR = 2.8837 * (1 - 0.1) * 0.9 = 2.335797
    result = supply_risk(
        global_shares={"CHN": 0.8, "AUS": 0.2},
        sourcing_shares={"CHN": 0.5, "DEU": 0.5},
        wgi_estimates={"CHN": [-0.5] * 6, "AUS": [1.5] * 6, "DEU": [1.0, 1.5]},
        import_reliance=0.6,
        eol_rir=0.1,
        substitution_index=0.9,
        measures=[_measure()],
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.hhi_wgi_t_global == pytest.approx(4.304)
    assert result.hhi_wgi_t_sourcing == pytest.approx(2.275)
    assert result.supply_risk == pytest.approx(2.335797)
    assert result.above_threshold is True
    assert dict(result.trade_factors) == {"AUS": 1.0, "CHN": pytest.approx(1.1), "DEU": 1.0}
    assert result.flags == ()


def test_supply_risk_missing_wgi_uses_median_and_is_flagged() -> None:
    # Known scores: AUS 2.0, JPN 2.0, DEU 2.5, CHN 6.0 -> median (2.0 + 2.5) / 2 = 2.25.
    # KAZ has none -> 2.25. SR = 1^2 * 2.25 * 1 (IR = 1: 0.5 global + 0.5 sourcing) = 2.25
    result = supply_risk(
        global_shares={"KAZ": 1.0},
        sourcing_shares={"KAZ": 1.0},
        wgi_estimates={"AUS": [1.5], "JPN": [1.5], "DEU": [1.25], "CHN": [-0.5]},
        import_reliance=1.0,
        eol_rir=0.0,
        substitution_index=1.0,
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.wgi_median == pytest.approx(2.25)
    assert result.wgi_imputed == ("KAZ",)
    assert "wgi_imputed" in result.flags
    assert result.supply_risk == pytest.approx(2.25)


def test_supply_risk_defaults_for_eol_rir_and_si_are_flagged() -> None:
    # global = sourcing = 1^2 * 4.0 = 4.0; IR 0.5: 4 * 0.25 + 4 * 0.75 = 4.0; * (1 - 0) * 1
    result = supply_risk(
        global_shares={"AUS": 1.0},
        sourcing_shares={"AUS": 1.0},
        wgi_estimates={"AUS": [0.5]},
        import_reliance=0.5,
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.eol_rir == 0.0
    assert result.substitution_index == 1.0
    assert set(result.flags) == {"eol_rir_default", "substitution_index_default"}
    assert result.supply_risk == pytest.approx(4.0)


def test_supply_risk_unknown_import_reliance_gives_no_sr() -> None:
    result = supply_risk(
        global_shares={"AUS": 1.0},
        sourcing_shares={},
        wgi_estimates={"AUS": [0.5]},
        import_reliance=None,
        eol_rir=0.0,
        substitution_index=1.0,
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.supply_risk is None
    assert result.above_threshold is None
    assert result.hhi_wgi_t_global == pytest.approx(4.0)
    assert "import_reliance_unknown" in result.flags


def test_supply_risk_t_override_and_ban_below_threshold() -> None:
    # CHN ban on USA would give t 1.5; override t_CHN = 0.8.
    # global = 0.3^2 * 6 * 0.8 + 0.7^2 * 0.4 = 0.432 + 0.196 = 0.628
    # IR = 0: SR = sourcing part only = 0.628 (same shares) -> below 1.0
    shares = {"CHN": 0.3, "NOR": 0.7}
    result = supply_risk(
        global_shares=shares,
        sourcing_shares=shares,
        wgi_estimates={"CHN": [-0.5], "NOR": [2.3]},
        import_reliance=0.0,
        eol_rir=0.0,
        substitution_index=1.0,
        measures=[_measure(measure_type="export_ban")],
        t_overrides={"CHN": 0.8},
        mineral="gallium",
        as_of=AS_OF,
    )
    assert dict(result.trade_factors)["CHN"] == 0.8
    assert result.supply_risk == pytest.approx(0.628)
    assert result.above_threshold is False


# --------------------------------------------------------------------------------------------
# 5. Ownership and buyer exposure


def test_ownership_chain_60_percent_of_50_percent_is_controlled() -> None:
    # ChinaCo (CHN) 60 % of HoldCo; HoldCo 50 % of Target -> 0.6 * 0.5 = 0.30 >= 0.25
    stakes = [Stake("ChinaCo", "HoldCo", 0.6), Stake("HoldCo", "Target", 0.5)]
    domicile = {"ChinaCo": "CHN", "HoldCo": "SGP", "Target": "CAN"}
    assert effective_ownership(stakes, domicile)["Target"] == pytest.approx(0.30)
    assert "Target" in controlled_companies(stakes, domicile)


def test_ownership_chain_40_percent_of_50_percent_is_not_controlled() -> None:
    # 0.4 * 0.5 = 0.20 < 0.25; HoldCo itself 0.40 >= 0.25 -> controlled
    stakes = [Stake("ChinaCo", "HoldCo", 0.4), Stake("HoldCo", "Target", 0.5)]
    domicile = {"ChinaCo": "CHN", "HoldCo": "SGP", "Target": "CAN"}
    assert effective_ownership(stakes, domicile)["Target"] == pytest.approx(0.20)
    assert controlled_companies(stakes, domicile) == {"ChinaCo", "HoldCo"}


def test_ownership_parallel_paths_are_summed_and_capped() -> None:
    # Direct 0.20 + via HoldCo 0.60 * 0.10 = 0.26. Capped: 0.8 + 0.7 -> 1.0
    stakes = [
        Stake("ChinaCo", "Target", 0.2),
        Stake("ChinaCo", "HoldCo", 0.6),
        Stake("HoldCo", "Target", 0.1),
        Stake("ChinaCo", "Over", 0.8),
        Stake("RusCo", "Over", 0.7),
    ]
    ownership = effective_ownership(stakes, {"ChinaCo": "CHN", "RusCo": "RUS"})
    assert ownership["Target"] == pytest.approx(0.26)
    assert ownership["Over"] == 1.0
    assert ownership["RusCo"] == 1.0


def test_ownership_cycle_terminates() -> None:
    # F(A) = 0.2 + 0.5 F(B); F(B) = 0.5 F(A) -> F(A) = 0.2 / 0.75 = 0.2667, F(B) = 0.1333
    stakes = [Stake("ChinaCo", "A", 0.2), Stake("A", "B", 0.5), Stake("B", "A", 0.5)]
    ownership = effective_ownership(stakes, {"ChinaCo": "CHN"})
    assert ownership["A"] == pytest.approx(0.2 / 0.75)
    assert ownership["B"] == pytest.approx(0.1 / 0.75)


def test_three_tier_chain_with_partial_shares() -> None:
    # Mine M1 in CHN and mine M2 in AUS feed refinery R (JPN) 0.6 / 0.4; M2 feeds R2 (FRA) 1.0.
    # Magnet plant P (USA): R 0.5, R2 0.3, remainder 0.2 -> USA fallback mix {CHN 0.5, AUS 0.5}.
    # Buyer: 80 from P, 20 from AUS (country line, mix {AUS 1.0}).
    # u(R) = 0.6; u(R2) = 0; u(P) = 0.5*0.6 + 0.3*0 + 0.2*0.5 = 0.4
    # upstream = 0.8 * 0.4 = 0.32; unmapped = 0.8 * 0.2 + 0.2 * 1 = 0.36
    # CHN licence 0.2 -> unblocked: M1 0.8; R 0.6*0.8 + 0.4 = 0.88;
    #   P = 0.5*0.88 + 0.3*1 + 0.2*(1 - 0.5*0.2) = 0.44 + 0.3 + 0.18 = 0.92
    #   buyer = 0.8 * 0.92 + 0.2 * 1 = 0.936 -> restricted 0.064
    facilities = [
        FacilityNode(1, "CHN", stage="mine"),
        FacilityNode(2, "AUS", stage="mine"),
        FacilityNode(3, "JPN", stage="refinery"),
        FacilityNode(4, "FRA", stage="refinery"),
        FacilityNode(5, "USA", stage="magnet"),
    ]
    links = [Link(1, 3, 0.6), Link(2, 3, 0.4), Link(2, 4, 1.0), Link(3, 5, 0.5), Link(4, 5, 0.3)]
    result = buyer_exposure(
        [SourcingLine(80, 5, "USA"), SourcingLine(20, None, "AUS")],
        facilities=facilities,
        links=links,
        fallback_mix={"USA": {"CHN": 0.5, "AUS": 0.5}, "AUS": {"AUS": 1.0}},
        measures=[_measure()],
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.total_volume == 100
    assert result.direct_china_share == 0.0
    assert result.china_controlled_share == 0.0
    assert result.upstream_china_share == pytest.approx(0.32)
    assert result.unmapped_share == pytest.approx(0.36)
    assert result.restricted_share == pytest.approx(0.064)
    assert result.china_exposed_volume == pytest.approx(32)
    assert result.cycles == ()
    # One network shared by many buyers gives the same exposure.
    shared = buyer_exposure(
        [SourcingLine(80, 5, "USA"), SourcingLine(20, None, "AUS")],
        network=supply_network(facilities, links),
        fallback_mix={"USA": {"CHN": 0.5, "AUS": 0.5}, "AUS": {"AUS": 1.0}},
        measures=[_measure()],
        mineral="gallium",
        as_of=AS_OF,
    )
    assert shared == result


def test_supply_network_rejects_a_share_above_one() -> None:
    with pytest.raises(ValueError, match="link 1->2"):
        supply_network([FacilityNode(1, "CHN"), FacilityNode(2, "USA")], [Link(1, 2, 1.5)])


def test_direct_and_controlled_shares() -> None:
    # 50 from a CHN plant, 30 from a VNM plant whose operator is 0.6 * 0.5 = 30 % Chinese-owned,
    # 20 from a MYS plant (mix {AUS 1.0}). direct = 0.5; controlled = 0.5 + 0.3 = 0.8;
    # upstream = 0.5 + 0.3 + 0.2 * 0 = 0.8
    facilities = [
        FacilityNode(10, "CHN", stage="refinery"),
        FacilityNode(11, "VNM", company="VinaRare", stage="refinery"),
        FacilityNode(12, "MYS", company="Lynas", stage="refinery"),
    ]
    result = buyer_exposure(
        [SourcingLine(50, 10, "CHN"), SourcingLine(30, 11, "VNM"), SourcingLine(20, 12, "MYS")],
        facilities=facilities,
        stakes=[Stake("ChinaCo", "HoldCo", 0.6), Stake("HoldCo", "VinaRare", 0.5)],
        company_country={"ChinaCo": "CHN", "Lynas": "AUS"},
        fallback_mix={"MYS": {"AUS": 1.0}, "CHN": {"CHN": 1.0}, "VNM": {"VNM": 1.0}},
        mineral="ndpr",
        as_of=AS_OF,
    )
    assert result.direct_china_share == pytest.approx(0.5)
    assert result.china_controlled_share == pytest.approx(0.8)
    assert result.upstream_china_share == pytest.approx(0.8)


def test_recorded_control_counts_as_china_controlled() -> None:
    result = buyer_exposure(
        [SourcingLine(10, 1, "IDN")],
        facilities=[FacilityNode(1, "IDN", china_controlled=True, stage="mine")],
        mineral="nickel",
        as_of=AS_OF,
    )
    assert result.direct_china_share == 0.0
    assert result.china_controlled_share == 1.0
    assert result.upstream_china_share == 1.0


def test_cycle_in_supply_links_is_reported_not_looped() -> None:
    # A (1, USA) <- B (2, JPN) 1.0; B <- A 0.5 (closes the cycle), B <- M (3, CHN mine) 0.5.
    # The closing link is a country line from USA: mix {CHN 0.5} -> china 0.5, unmapped 1.
    # u(B) = 0.5*0.5 + 0.5*1 = 0.75; unmapped(B) = 0.5; u(A) = 0.75; unmapped(A) = 0.5
    result = buyer_exposure(
        [SourcingLine(100, 1, "USA")],
        facilities=[FacilityNode(1, "USA"), FacilityNode(2, "JPN"), FacilityNode(3, "CHN", stage="mine")],
        links=[Link(2, 1, 1.0), Link(1, 2, 0.5), Link(3, 2, 0.5)],
        fallback_mix={"USA": {"CHN": 0.5, "USA": 0.5}},
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.cycles == ((1, 2, 1),)
    assert result.upstream_china_share == pytest.approx(0.75)
    assert result.unmapped_share == pytest.approx(0.5)


def test_self_link_is_a_cycle() -> None:
    result = buyer_exposure(
        [SourcingLine(1, 7, "USA")],
        facilities=[FacilityNode(7, "USA", stage="mine")],
        links=[Link(7, 7, 0.1)],
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.cycles == ((7, 7),)


def test_facility_without_links_falls_back_to_country_mix() -> None:
    # KOR refinery, no links; KOR mix {CHN 0.7, AUS 0.3} -> upstream 0.7, all of it unmapped
    result = buyer_exposure(
        [SourcingLine(40, 1, "KOR")],
        facilities=[FacilityNode(1, "KOR", stage="refinery")],
        fallback_mix={"KOR": {"CHN": 0.7, "AUS": 0.3}},
        mineral="graphite",
        as_of=AS_OF,
    )
    assert result.upstream_china_share == pytest.approx(0.7)
    assert result.unmapped_share == pytest.approx(1.0)
    assert result.countries_without_mix == ()


def test_missing_fallback_mix_is_listed() -> None:
    result = buyer_exposure(
        [SourcingLine(40, None, "BRA")],
        mineral="graphite",
        as_of=AS_OF,
    )
    assert result.upstream_china_share == 0.0
    assert result.unmapped_share == 1.0
    assert result.countries_without_mix == ("BRA",)


def test_mine_without_links_is_mapped() -> None:
    result = buyer_exposure(
        [SourcingLine(5, 0, "AUS")],  # facility id 0 is a real id
        facilities=[FacilityNode(0, "AUS", stage="mine")],
        mineral="lithium",
        as_of=AS_OF,
    )
    assert result.unmapped_share == 0.0
    assert result.upstream_china_share == 0.0
    assert result.unknown_facility_ids == ()


def test_country_line_from_china() -> None:
    result = buyer_exposure([SourcingLine(10, None, "CHN")], mineral="gallium", as_of=AS_OF)
    assert (result.direct_china_share, result.china_controlled_share, result.upstream_china_share) == (1.0, 1.0, 1.0)


def test_unknown_facility_in_line_is_treated_as_country_line_and_listed() -> None:
    result = buyer_exposure([SourcingLine(10, 99, "CHN")], mineral="gallium", as_of=AS_OF)
    assert result.unknown_facility_ids == (99,)
    assert result.direct_china_share == 1.0


def test_overallocated_links_are_scaled_and_listed() -> None:
    # shares 0.8 (CHN mine) + 0.8 (AUS mine) = 1.6 -> scaled to 0.5 / 0.5 -> upstream 0.5
    result = buyer_exposure(
        [SourcingLine(1, 3, "JPN")],
        facilities=[FacilityNode(1, "CHN", stage="mine"), FacilityNode(2, "AUS", stage="mine"), FacilityNode(3, "JPN")],
        links=[Link(1, 3, 0.8), Link(2, 3, 0.8)],
        mineral="gallium",
        as_of=AS_OF,
    )
    assert result.overallocated_facilities == (3,)
    assert result.upstream_china_share == pytest.approx(0.5)


def test_restricted_share_upstream_follows_destination_specific_ban() -> None:
    # JPN refinery takes 0.5 from a CHN mine, 0.5 from an AUS mine. CHN ban targets USA.
    # USA buyer: unblocked = 0.5 * (1 - 1.0) + 0.5 * 1 = 0.5 -> restricted 0.5. DEU buyer: 0.
    ban = _measure(measure_type="export_ban", targets=frozenset({"USA"}))
    facilities = [FacilityNode(1, "CHN", stage="mine"), FacilityNode(2, "AUS", stage="mine"), FacilityNode(3, "JPN")]
    links = [Link(1, 3, 0.5), Link(2, 3, 0.5)]

    def exposure_for(buyer_country: str) -> Exposure:
        return buyer_exposure(
            [SourcingLine(10, 3, "JPN")],
            buyer_country=buyer_country,
            facilities=facilities,
            links=links,
            measures=[ban],
            mineral="gallium",
            as_of=AS_OF,
        )

    usa, deu = exposure_for("USA"), exposure_for("DEU")
    assert usa.restricted_share == pytest.approx(0.5)
    assert deu.restricted_share == pytest.approx(0.0)


def test_a_countrys_export_control_applies_once_however_many_of_its_stages() -> None:
    # China's gallium licence (severity 0.2). A Chinese refinery fed 0.5 by a Chinese mine and 0.5
    # by an Australian one: the Chinese mine's output never leaves China before the refinery's
    # does, so the licence applies once: unblocked (1 - 0.2) x (0.5 + 0.5) = 0.8, restricted 0.2
    # (applying it at both stages gave 1 - 0.8 x (0.5 x 0.8 + 0.5) = 0.28). A country line from
    # China whose fallback mix is China's own mines: restricted 0.2, not 1 - 0.8 x 0.8 = 0.36.
    licence = _measure()
    facilities = [FacilityNode(1, "CHN", stage="mine"), FacilityNode(2, "AUS", stage="mine"), FacilityNode(3, "CHN")]
    links = [Link(1, 3, 0.5), Link(2, 3, 0.5)]
    common = {"measures": [licence], "mineral": "gallium", "as_of": AS_OF}
    refinery = buyer_exposure([SourcingLine(10, 3, "CHN")], facilities=facilities, links=links, **common)
    assert refinery.restricted_share == pytest.approx(0.2)
    country_line = buyer_exposure([SourcingLine(10, None, "CHN")], fallback_mix={"CHN": {"CHN": 1.0}}, **common)
    assert country_line.restricted_share == pytest.approx(0.2)
    # Bought from Japan, refined there from Chinese ore: the ore crosses a border, the licence applies.
    japan = buyer_exposure([SourcingLine(10, None, "JPN")], fallback_mix={"JPN": {"CHN": 1.0}}, **common)
    assert japan.restricted_share == pytest.approx(0.2)


def test_empty_portfolio_gives_unknown_shares() -> None:
    for lines in ([], [SourcingLine(0, None, "CHN")]):
        result = buyer_exposure(lines, mineral="gallium", as_of=AS_OF)
        assert result.total_volume == 0
        assert result.direct_china_share is None
        assert result.china_controlled_share is None
        assert result.upstream_china_share is None
        assert result.unmapped_share is None
        assert result.restricted_share is None


# --------------------------------------------------------------------------------------------
# 5. Alternatives


def test_alternatives_ranking_and_coverage_ratio() -> None:
    # exposed 100. Operating first: CAN facility 150 (ratio 1.5, covers all) > AUS 50 (0.5)
    # > recycling 10 (0.1); then planned US project 200 (2.0). CHN, RUS, FEOC-controlled and
    # zero-capacity candidates are excluded.
    candidates = [
        AlternativeSource("country:AUS", "country", "AUS", 50, governance=2.0),
        AlternativeSource("facility:7", "facility", "CAN", 150, governance=1.5),
        AlternativeSource("project:us-1", "us_project", "USA", 200, status="planned", start_year=2028),
        AlternativeSource("recycling:USA", "recycling", "USA", 10, governance=2.2),
        AlternativeSource("country:CHN", "country", "CHN", 1_000),
        AlternativeSource("country:RUS", "country", "RUS", 500),
        AlternativeSource("facility:8", "facility", "IDN", 300, feoc_controlled=True),
        AlternativeSource("facility:9", "facility", "BRA", 0),
    ]
    ranked = rank_alternatives(100, candidates)
    assert [a.source.key for a in ranked] == ["facility:7", "country:AUS", "recycling:USA", "project:us-1"]
    assert [a.rank for a in ranked] == [1, 2, 3, 4]
    assert [a.coverage_ratio for a in ranked] == pytest.approx([1.5, 0.5, 0.1, 2.0])


def test_alternatives_tie_broken_by_governance_unknown_last() -> None:
    # both cover 100 % of 50: better governance (lower score) first, unknown governance last
    candidates = [
        AlternativeSource("a", "country", "ZAF", 80, governance=5.0),
        AlternativeSource("b", "country", "CAN", 60, governance=1.0),
        AlternativeSource("c", "country", "AUS", 90),
    ]
    assert [a.source.key for a in rank_alternatives(50, candidates)] == ["b", "a", "c"]


def test_alternatives_with_no_exposed_volume() -> None:
    candidates = [
        AlternativeSource("small", "country", "CAN", 10),
        AlternativeSource("big", "country", "AUS", 90),
    ]
    ranked = rank_alternatives(0, candidates)
    assert [a.source.key for a in ranked] == ["big", "small"]
    assert all(a.coverage_ratio is None for a in ranked)


# --------------------------------------------------------------------------------------------
# 6. Freshness


def test_stale_when_never_computed_or_older_than_the_data() -> None:
    assert is_stale(None, 1) is True
    assert is_stale(3, 4) is True
    assert is_stale(4, 4) is False
    assert is_stale(5, 4) is False  # a newer version read after the data: current


def test_supply_risk_is_unknown_not_zero_when_every_producer_is_withheld():
    result = supply_risk(
        global_shares={"CHN": None, "RUS": None},
        sourcing_shares={"CHN": None},
        wgi_estimates={"CHN": (-0.5,) * 6, "USA": (1.0,) * 6},
        import_reliance=1.0,
        mineral="germanium",
        as_of=date(2026, 11, 30),
    )
    assert result.supply_risk is None
    assert "no_known_shares" in result.flags


def test_stored_partner_amounts_give_back_the_ranked_shares() -> None:
    # CHN 60 USD / 30 kg + HKG 20 USD (no quantity; merged into CHN) + AUS 20 USD / 10 kg, and
    # 20 USD from unknown partners: V = 120, Q = 40 kg. Amounts: CHN (80, 30), AUS (20, 10).
    # Value shares CHN 80/120, AUS 20/120 (sum = coverage 100/120); quantity CHN 0.75, AUS 0.25.
    result = import_dependence(
        [
            ImportFlow("CHN", 60.0, 30.0),
            ImportFlow("HKG", 20.0),
            ImportFlow("AUS", 20.0, 10.0),
            ImportFlow(None, 20.0),
        ]
    )
    assert result.partners == (("CHN", 80.0, 30.0), ("AUS", 20.0, 10.0))
    assert ranked_partner_shares(result.partners, 120.0) == (("CHN", 80 / 120), ("AUS", 20 / 120))
    assert ranked_partner_shares(result.partners, 120.0) == result.partner_shares
    # HKG and the unknown partners report no quantity: the total quantity is unknown (issue 11).
    assert result.total_quantity_kg is None
    assert result.partner_shares_by_quantity == ()
    by_quantity = ranked_partner_shares(result.partners, 40.0, by_quantity=True)
    assert by_quantity == (("CHN", 0.75), ("AUS", 0.25))
    # A partner without any quantity is absent by quantity; ties ranked by code; no total, no shares.
    amounts = [["USA", 5.0, None], ["BRA", 5.0, 2.0]]
    assert ranked_partner_shares(amounts, 10.0) == (("BRA", 0.5), ("USA", 0.5))
    assert ranked_partner_shares(amounts, 2.0, by_quantity=True) == (("BRA", 1.0),)
    assert ranked_partner_shares(amounts, None) == ()
    assert ranked_partner_shares(amounts, 0.0) == ()


# --------------------------------------------------------------------------------------------
# Alternatives ranking explained (issue 12): factors, weights, contributions, availability


def test_operating_alternative_ranks_before_a_planned_one_of_the_same_size() -> None:
    """Exposed 100 t, two Canadian refineries of 100 t (governance 2.0), as of 2026, default
    weights (stage 0.30, availability 0.25, coverage 0.20, governance 0.15, measures 0.10).
    Shared: stage match 1 -> 0.30; coverage min(1, 100/100) = 1 -> 0.20; governance
    1 - 2/10 = 0.8 -> 0.12; no measure -> 0.10. Operating: available 2026 -> 1 -> 0.25, score
    0.97; planned from 2029 (announced): 1 - 3/10 = 0.7 -> 0.175, score 0.895."""
    planned = AlternativeSource(
        "plan", "facility", "CAN", 100, status="planned", start_year=2029, governance=2.0, stage="refinery"
    )
    operating = AlternativeSource("op", "facility", "CAN", 100, governance=2.0, stage="refinery")
    ranked = rank_alternatives(100, [planned, operating], required_stage="refinery", year=2026)
    assert [a.source.key for a in ranked] == ["op", "plan"]
    assert [a.score for a in ranked] == pytest.approx([0.97, 0.895])
    assert dict(ranked[1].contributions) == pytest.approx(
        {"stage": 0.30, "availability": 0.175, "coverage": 0.20, "governance": 0.12, "measures": 0.10}
    )
    assert (ranked[0].available_from, ranked[0].announced) == (2026, False)
    assert (ranked[1].available_from, ranked[1].announced) == (2029, True)


def test_unknown_capacity_counts_its_worst_bound_and_never_ranks_above_a_known_better_source() -> None:
    """The honest rule for unknowns: an unknown factor contributes 0 (its worst bound) and the
    rank follows that worst bound. Gap 100 t, as of 2026, default weights, governance 2.0:
    - "unknown": operating refinery, capacity unknown: 0.30 + 0.25 + 0 + 0.12 + 0.10 = 0.77,
      up to 0.77 + 0.20 = 0.97 were it to cover the gap (score_upper);
    - "small": the same refinery known to have 1 t: coverage 1/100 = 0.01 -> 0.002; 0.772.
    So "unknown" cannot rank above "small", however large it might turn out to be."""
    unknown = AlternativeSource("unknown", "facility", "CAN", None, governance=2.0, stage="refinery")
    small = AlternativeSource("small", "facility", "CAN", 1, governance=2.0, stage="refinery")
    ranked = rank_alternatives(100, [unknown, small], required_stage="refinery", year=2026)
    assert [a.source.key for a in ranked] == ["small", "unknown"]
    by_key = {a.source.key: a for a in ranked}
    assert by_key["unknown"].score == pytest.approx(0.77)
    assert by_key["unknown"].score_upper == pytest.approx(0.97)
    assert by_key["unknown"].unknown_factors == ("coverage",)
    assert by_key["unknown"].contributions["coverage"] == 0.0
    assert by_key["small"].score == pytest.approx(0.772)
    assert (by_key["small"].score_upper, by_key["small"].unknown_factors) == (pytest.approx(0.772), ())


def test_equal_worst_bound_puts_the_source_with_fewer_unknowns_first() -> None:
    """Both score 0.30 + 0.25 + 0 + 0.12 + 0.10 = 0.77 at worst: "zero-cover" has coverage known
    (1e-12 t of a 100 t gap: 0 to twelve places) and "unknown" does not: fewer unknowns first,
    whatever the key order."""
    unknown = AlternativeSource("a-unknown", "facility", "CAN", None, governance=2.0, stage="refinery")
    known = AlternativeSource("b-known", "facility", "CAN", 1e-12, governance=2.0, stage="refinery")
    ranked = rank_alternatives(100, [unknown, known], required_stage="refinery", year=2026)
    assert [a.source.key for a in ranked] == ["b-known", "a-unknown"]


def test_unknown_capacity_ranks_first_only_when_its_worst_bound_beats_the_rest() -> None:
    """An unknown-capacity operating refinery (worst bound 0.77) against a known 100 t mine
    planned from 2034 elsewhere: stage 0 (mine for a refined buyer), availability
    1 - 8/10 = 0.2 -> 0.05, coverage 1 -> 0.20, governance 0.12, measures 0.10: 0.47. Even at
    its worst the unknown one is better, so it ranks first, and says what is unknown."""
    unknown = AlternativeSource("unknown", "facility", "CAN", None, governance=2.0, stage="refinery")
    far = AlternativeSource(
        "far", "facility", "AUS", 100, status="planned", start_year=2034, governance=2.0, stage="mine"
    )
    ranked = rank_alternatives(100, [far, unknown], required_stage="refinery", year=2026)
    assert [(a.source.key, round(a.score, 4)) for a in ranked] == [("unknown", 0.77), ("far", 0.47)]
    assert ranked[0].unknown_factors == ("coverage",)


def test_alternative_weights_are_configurable_and_measures_count() -> None:
    """Only availability weighed: 1.0 and 0.7. Measures in force by the source country
    (severity 0.5) leave 1 - 0.5 = 0.5 of the measures factor: 0.10 x 0.5 = 0.05."""
    planned = AlternativeSource("plan", "facility", "CAN", 100, status="planned", start_year=2029)
    operating = AlternativeSource("op", "facility", "CAN", 100, measure_severity=0.5)
    ranked = rank_alternatives(100, [planned, operating], year=2026, weights={"availability": 1.0})
    assert [(a.source.key, a.score) for a in ranked] == [("op", pytest.approx(1.0)), ("plan", pytest.approx(0.7))]
    by_default = {a.source.key: a for a in rank_alternatives(100, [planned, operating], year=2026)}
    assert by_default["op"].contributions["measures"] == pytest.approx(0.05)
    assert by_default["plan"].contributions["stage"] == 0.0  # no stage bought given: unknown, not a match
    with pytest.raises(ValueError, match="unknown ranking factor"):
        rank_alternatives(100, [operating], weights={"price": 1.0})
