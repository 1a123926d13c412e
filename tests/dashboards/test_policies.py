"""Policy measures as a buyer reads them: every measure names its instrument and links its
official text (or says it is not linked), curator notes never leave the admin, "suspended until
D" includes D in Python and SQL alike, other issuers' measures restrict their own exports, and
each measure's page shows its items, targets and dates on one small timeline."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from dashboards import figures, risk
from dashboards.inputs import policy_measures
from minerals.models import PolicyMeasure
from minerals.policy_terms import DEFAULT_SEVERITY, MeasureType

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache(settings):  # type: ignore[no-untyped-def]
    """A private in-memory page cache per test (never a shared Redis)."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pol"}}
    cache.clear()
    yield cache
    cache.clear()


def _by_key(keys: list[str]) -> dict[str, risk.Measure]:
    return {m.key: m for m in policy_measures() if m.key in keys}


# ------------------------------------------------------------------ seed data


def test_official_texts_are_the_issuers_own_sites(demo) -> None:  # type: ignore[no-untyped-def]
    hosts = {
        re.sub(r"^https?://([^/]+)/.*$", r"\1", u)
        for u in PolicyMeasure.objects.exclude(source_url="").values_list("source_url", flat=True)
    }
    assert hosts <= {"www.mofcom.gov.cn", "exportcontrol.mofcom.gov.cn", "www.govinfo.gov", "govinfo.gov"}


def test_other_issuers_measures_are_seeded_with_the_timelines_flags(demo) -> None:  # type: ignore[no-untyped-def]
    rows = {
        m.key: m for m in PolicyMeasure.objects.filter(issuer_id__in=["IDN", "ZWE", "COD"]).prefetch_related("minerals")
    }
    assert set(rows) == {
        "id-2020-nickel-ore-ban",
        "zw-2022-lithium-ore-ban",
        "zw-2027-lithium-concentrate-ban",
        "cd-2025-cobalt-export-suspension",
        "cd-2025-cobalt-export-quota",
    }
    assert rows["id-2020-nickel-ore-ban"].effective_on == date(2020, 1, 1)
    assert rows["zw-2022-lithium-ore-ban"].effective_on == date(2022, 12, 20)
    assert rows["zw-2027-lithium-concentrate-ban"].measure_type == "announced_export_ban"
    assert rows["zw-2027-lithium-concentrate-ban"].effective_on == date(2027, 1, 1)
    suspension = rows["cd-2025-cobalt-export-suspension"]
    assert (suspension.effective_on, suspension.ended_on) == (date(2025, 2, 22), date(2025, 10, 16))
    assert rows["cd-2025-cobalt-export-quota"].measure_type == "export_quota"
    assert rows["cd-2025-cobalt-export-quota"].effective_on == date(2025, 10, 16)
    assert all(m.is_partly_confirmed for m in rows.values())
    assert {x.slug for m in rows.values() for x in m.minerals.all()} == {"nickel", "lithium", "cobalt"}


def test_announced_export_ban_has_a_default_severity() -> None:
    assert DEFAULT_SEVERITY[MeasureType.ANNOUNCED_EXPORT_BAN] == 1.0


# ------------------------------------------------------------------ suspension dates, Python and SQL


@pytest.mark.parametrize(
    ("key", "last_day", "next_day"),
    [
        ("cn-2024-46-us-ban", date(2026, 11, 27), date(2026, 11, 28)),
        ("cn-2025-10-ree-five", date(2026, 11, 10), date(2026, 11, 11)),
    ],
)
def test_suspended_until_day_is_still_suspended_and_the_next_day_in_force(  # type: ignore[no-untyped-def]
    demo, client, django_user_model, key, last_day, next_day
) -> None:
    measure = _by_key([key])[key]
    assert risk.is_suspended(measure, last_day)
    assert not risk.in_force(measure, last_day)
    assert risk.in_force(measure, next_day)
    assert risk.needs_review(measure, next_day)
    client.force_login(django_user_model.objects.create_user("reader", password="pw-reader-123"))
    for day, expected in ((last_day, False), (next_day, True)):
        rows = client.get("/api/v1/policies/", {"in_force_on": day.isoformat(), "page_size": 1000}).json()
        assert (key in {r["key"] for r in rows["results"]}) is expected, day


def test_drc_measures_restrict_cobalt_from_cod_and_zimbabwe_lithium(demo) -> None:  # type: ignore[no-untyped-def]
    measures = policy_measures()
    # Suspension (ban, 1.0) until 2025-10-15; quotas (0.4) from 2025-10-16.
    assert risk.country_severity(measures, "COD", "cobalt", "USA", date(2025, 6, 1)) == 1.0
    assert risk.country_severity(measures, "COD", "cobalt", "USA", date(2025, 10, 15)) == 1.0
    assert risk.country_severity(measures, "COD", "cobalt", "USA", date(2025, 10, 16)) == 0.4
    assert risk.country_severity(measures, "COD", "cobalt", "USA", date(2025, 2, 21)) == 0.0
    assert risk.country_severity(measures, "ZWE", "lithium", "USA", date(2026, 1, 1)) == 1.0
    # The 2027 concentrate ban is announced, not in force before its date.
    zwe_2027 = _by_key(["zw-2027-lithium-concentrate-ban"])["zw-2027-lithium-concentrate-ban"]
    assert not risk.in_force(zwe_2027, date(2026, 12, 31))
    assert risk.in_force(zwe_2027, date(2027, 1, 1))


# ------------------------------------------------------------------ what buyers see


def test_curator_notes_never_reach_pages_or_api(demo, client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    measure = PolicyMeasure.objects.get(key="cn-2024-46-us-ban")
    assert "not verified" in measure.curator_notes
    note = measure.curator_notes[:60]
    assert note not in measure.summary
    pages = [
        client.get("/policies/").content.decode(),
        client.get("/policies/cn-2024-46-us-ban/").content.decode(),
        client.get("/minerals/gallium/").content.decode(),
    ]
    client.force_login(django_user_model.objects.create_user("reader2", password="pw-reader-123"))
    api = client.get("/api/v1/policies/", {"page_size": 1000}).json()["results"]
    api_one = client.get("/api/v1/policies/cn-2024-46-us-ban/").json()
    for text in [*pages, json.dumps(api), json.dumps(api_one)]:
        assert note not in text
    assert all("curator_notes" not in row for row in api)
    assert "curator_notes" not in api_one
    assert measure.summary[:60] in pages[1]  # the public summary is shown


def test_measure_page_shows_instrument_link_items_targets_and_dates(demo, client) -> None:  # type: ignore[no-untyped-def]
    measure = PolicyMeasure.objects.get(key="cn-2024-46-us-ban")
    html = client.get("/policies/cn-2024-46-us-ban/?as_of=2026-06-01").content.decode()
    assert "MOFCOM Ann. No. 46 [2024], clause 2" in html
    assert f'<a href="{measure.source_url}" rel="noopener" data-official-text>official text</a>' in html
    for minerals in ("Gallium", "Germanium", "Antimony"):
        assert minerals in html
    codes = re.findall(r"<div><code>(\d{6})</code> ([^<]+)</div>", html)
    assert {c for c, _ in codes} == {"811292", "282560", "261710", "811010", "282580"}
    assert all(description.strip() for _, description in codes)
    assert "<dt>Targets</dt><dd>USA</dd>" in html
    assert '<dd data-date="announced">2024-12-03</dd>' in html
    assert '<dd data-date="effective">2024-12-03</dd>' in html
    assert "2025-11-09 to 2026-11-27 (last day included; applies again from 2026-11-28)" in html
    assert '<dd data-date="ended">\u2013</dd>' in html  # en dash: no end
    # One timeline, embedded as JSON data (no inline script), drawn by charts.js.
    payload = re.search(r'<script id="fig-measure-dates" type="application/json">(.*?)</script>', html, re.S)
    assert payload
    assert 'data-figure="fig-measure-dates"' in html
    assert "js/charts.js" in html
    inline = [s for s in re.findall(r"<script([^>]*)>", html) if "src=" not in s and "application/json" not in s]
    assert inline == []
    data = json.loads(payload.group(1))["data"]
    assert [(t["x"][0], t["x"][1]) for t in data if t["mode"] == "lines"] == [
        ("2024-12-03", "2025-11-09"),
        ("2025-11-09", "2026-11-28"),
        ("2026-11-28", data[-2]["x"][1]),
    ]


def test_unlinked_measure_says_official_text_not_linked(demo, client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/policies/cd-2025-cobalt-export-quota/").content.decode()
    assert '<span data-official-text="missing">official text not linked</span>' in html
    assert "Official text not linked: some details of this measure are not yet confirmed." in html
    assert "partly confirmed" in html
    tracker = client.get("/policies/").content.decode()
    assert "official text not linked" in tracker


# ------------------------------------------------------------------ the figure builder (pure)


def test_measure_timeline_marks_each_date_and_resumes_the_day_after() -> None:
    measure = {
        "issuer": "CHN",
        "announced_on": date(2025, 10, 9),
        "effective_on": date(2025, 11, 8),
        "suspended_from": date(2025, 11, 7),
        "suspended_until": date(2026, 11, 10),
        "ended_on": None,
        "status": "needs_review",
    }
    figure = figures.measure_timeline(measure, as_of=date(2026, 11, 30), today=date(2026, 11, 30), title="t")
    assert figure is not None
    lines = [(t.name, t.x[0], t.x[1]) for t in figure.data if t.mode == "lines"]
    assert lines[0] == ("announced, not yet in force", "2025-10-09", "2025-11-08")
    # Suspended before it took effect: the suspension bar starts on the effective date.
    assert lines[1][1:] == ("2025-11-08", "2026-11-11")
    assert lines[2][0].startswith("in force again")
    assert lines[2][1] == "2026-11-11"
    markers = figure.data[-1]
    assert list(markers.x) == ["2025-10-09", "2025-11-07", "2025-11-08", "2026-11-10"]
    assert markers.text[-1] == "suspended until (last day)<br>2026-11-10"
    assert list(markers.textposition) == ["top center", "bottom center", "top center", "bottom center"]


def test_measure_timeline_without_dates_is_none() -> None:
    measure = {"issuer": "USA", "announced_on": None, "effective_on": None, "ended_on": None}
    assert figures.measure_timeline(measure, as_of=date(2026, 1, 1), today=date(2026, 1, 1), title="t") is None


def test_policy_timeline_axis_reaches_back_to_the_earliest_measure() -> None:
    nickel = {"key": "n", "label": "nickel ore", "issuer": "IDN", "effective_on": date(2020, 1, 1), "ended_on": None}
    gallium = {"key": "g", "label": "gallium", "issuer": "CHN", "effective_on": date(2023, 8, 1), "ended_on": None}
    figure = figures.policy_timeline([nickel, gallium], as_of=date(2026, 6, 1), today=date(2026, 6, 1), title="t")
    assert figure.layout.xaxis.range[0] == "2020-01-01"
    later = figures.policy_timeline([gallium], as_of=date(2026, 6, 1), today=date(2026, 6, 1), title="t")
    assert later.layout.xaxis.range[0] == "2022-01-01"
