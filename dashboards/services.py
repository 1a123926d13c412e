"""The risk engine's recompute: read the inputs (dashboards.inputs), run dashboards.risk, write
the metric rows if newer. The only writer of the metric tables; nothing that reads imports it.

Contract (docs/metrics.md, "Recompute"):
* The target version is read BEFORE the inputs, so a row is never labelled with a version
  newer than its data (at worst older: it is then stale and recomputed again).
* Inputs are aggregated in SQL, one query per metric family, whatever the data size: no
  Python loop over trade flows (they are summed per exporter in the database first).
* Rows are written only if newer: a conditional UPDATE on `MineralMetricsState` claims the
  version in the transaction that replaces the mineral's rows, so a duplicate delivery or an
  out-of-order run writes nothing (idempotent, monotonic). Exposure rows carry two versions
  (organization, mineral) and are replaced only when neither goes backwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from dashboards import generation, metric_sql, risk
from dashboards.inputs import (
    FallbackMix,
    SupplyTable,
    china_group,
    data_sources,
    exposure_inputs,
    feoc_countries,
    import_inputs,
    import_metric_row,
    import_tables,
    metrics_stale,
    supply_metric_row,
    supply_tables,
)
from dashboards.models import ExposureMetric, ImportMetric, MineralMetricsState, SupplyMetric
from minerals.models import Mineral
from suppliers.models import Organization, Requirement, Sourcing

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# 3. The mineral recompute


@dataclass(frozen=True, slots=True)
class RecomputeResult:
    mineral_id: int
    data_version: int
    written: bool
    supply_rows: int = 0
    import_rows: int = 0
    exposure_rows: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class MineralMetrics:
    """Everything one recompute of a mineral writes, labelled with the version it read first.

    On PostgreSQL the import rows are computed by the write itself (`import_inputs` holds
    the small inputs of the set-based statement, `import_rows` is empty); elsewhere they are
    computed here by the pure path (`import_rows`, `import_inputs` None).
    """

    mineral_id: int
    data_version: int
    supply_rows: list[SupplyMetric]
    import_rows: list[ImportMetric]
    exposure: ExposureBatch
    started: float
    import_inputs: metric_sql.ImportInputs | None = None


def mineral_metrics_compute(*, mineral_id: int, target: int, set_based: bool | None = None) -> MineralMetrics:
    """Read the inputs (after the caller read `target`) and run the pure maths; no writes.

    `set_based` (default: on PostgreSQL) leaves the import rows to the set-based statement
    run by `mineral_metrics_write`; False forces the pure path (tests compare the two).
    """
    return _minerals_metrics_compute({mineral_id: target}, set_based=set_based)[0]


def _minerals_metrics_compute(targets: Mapping[int, int], *, set_based: bool | None = None) -> list[MineralMetrics]:
    """`mineral_metrics_compute` of several minerals (mineral id -> target version) at once:
    the sources, production tables and buyer exposure (ownership control solved once) are
    read for the whole batch, and so are the import inputs (four small queries)."""
    started = time.perf_counter()
    if set_based is None:
        set_based = metric_sql.supported()
    mineral_ids = list(targets)
    sources = data_sources()
    all_tables = supply_tables(mineral_ids, sources)
    exposure = exposures_compute(mineral_ids=mineral_ids, mineral_versions=dict(targets), supply=all_tables)
    now = timezone.now()
    inputs = import_inputs(all_tables, sources, mineral_ids) if set_based else {}
    batch = []
    for mineral_id, target in targets.items():
        tables = [t for t in all_tables if t.mineral_id == mineral_id]
        imports = [] if set_based else import_tables(mineral_id, tables, sources)
        batch.append(
            MineralMetrics(
                mineral_id=mineral_id,
                data_version=target,
                supply_rows=[supply_metric_row(t, version=target, now=now, sources=sources) for t in tables],
                import_rows=[
                    import_metric_row(mineral_id, t, version=target, now=now, sources=sources) for t in imports
                ],
                exposure=ExposureBatch(
                    rows=[r for r in exposure.rows if r.mineral_id == mineral_id],
                    organization_versions=exposure.organization_versions,
                    pairs={p for p in exposure.pairs if p[1] == mineral_id},
                ),
                started=started,
                import_inputs=inputs.get(mineral_id),
            )
        )
    return batch


def mineral_metrics_write(metrics: MineralMetrics, *, force: bool = False) -> bool:
    """Replace the mineral's rows if `metrics` is newer than what is stored; True if written."""
    return _metrics_write(metrics, force=force) is not None


def _metrics_write(metrics: MineralMetrics, *, force: bool = False) -> int | None:
    """The write of `mineral_metrics_write`; returns the import rows written, None if skipped."""
    return _metrics_write_many([metrics], force=force)[metrics.mineral_id]


def _metrics_write_many(batch: Sequence[MineralMetrics], *, force: bool = False) -> dict[int, int | None]:
    """Write several minerals' rows in one transaction; per mineral the import rows written,
    None if skipped.

    The conditional UPDATE of each mineral's state row is its gate: it locks that row until
    commit, so concurrent runs of one mineral serialize, and an older or duplicate run matches
    nothing (that mineral is skipped, the others written). Gates are claimed in mineral id
    order. Import rows (the bulk: destinations x years with partner vectors) are written
    set-based on PostgreSQL: one INSERT ... SELECT ... ON CONFLICT DO UPDATE for every claimed
    mineral that never replaces a row by an older version, then one DELETE of the keys the run
    no longer produced.
    """
    result: dict[int, int | None] = {m.mineral_id: None for m in batch}
    with transaction.atomic():
        MineralMetricsState.objects.bulk_create(
            [MineralMetricsState(mineral_id=m.mineral_id) for m in batch], ignore_conflicts=True
        )
        claimed = []
        for metrics in sorted(batch, key=lambda m: m.mineral_id):
            target = metrics.data_version
            gate = Q(data_version__lte=target) if force else Q(data_version__lt=target) | Q(computed_at__isnull=True)
            if MineralMetricsState.objects.filter(gate, mineral_id=metrics.mineral_id).update(
                data_version=target,
                computed_at=timezone.now(),
                recompute_count=F("recompute_count") + 1,
                duration_ms=(time.perf_counter() - metrics.started) * 1000.0,
            ):
                claimed.append(metrics)
            # else a newer (or the same) version is stored: this mineral's run is redundant
        if not claimed:
            return result
        generation.changed()  # the states moved by UPDATE: no signal tells the cached generation
        claimed_ids = [m.mineral_id for m in claimed]
        SupplyMetric.objects.filter(mineral_id__in=claimed_ids).delete()
        SupplyMetric.objects.bulk_create([row for m in claimed for row in m.supply_rows])
        set_based = [m for m in claimed if m.import_inputs is not None]
        written = metric_sql.import_metrics_upsert_many(
            [(m.mineral_id, m.data_version, m.import_inputs) for m in set_based if m.import_inputs is not None],
            now=timezone.now(),
            china_group=china_group(),
            feoc=feoc_countries(),
        )
        result.update({m.mineral_id: written.get(m.mineral_id, 0) for m in set_based})
        pure = [m for m in claimed if m.import_inputs is None]
        if pure:
            ImportMetric.objects.filter(mineral_id__in=[m.mineral_id for m in pure]).delete()
            ImportMetric.objects.bulk_create([row for m in pure for row in m.import_rows])
            result.update({m.mineral_id: len(m.import_rows) for m in pure})
        first = claimed[0].exposure
        exposure = ExposureBatch(
            rows=[row for m in claimed for row in m.exposure.rows],
            organization_versions=first.organization_versions,
            pairs={pair for m in claimed for pair in m.exposure.pairs},
        )
        exposures_write(exposure, mineral_ids=claimed_ids)
    return result


def mineral_metrics_recompute(*, mineral_id: int, force: bool = False) -> RecomputeResult:
    """Recompute every metric row of one mineral (and its buyers' exposure) if newer.

    A fixed number of queries whatever the data size (pinned in the tests). `force` rewrites
    rows of the current version too (the `recompute_metrics --all` repair path).
    """
    return minerals_metrics_recompute(mineral_ids=[mineral_id], force=force)[0]


def minerals_metrics_recompute(*, mineral_ids: Sequence[int], force: bool = False) -> list[RecomputeResult]:
    """`mineral_metrics_recompute` of several minerals as one batch: one read of the shared
    inputs, one exposure computation (ownership control solved once), one transaction with
    one import computation for all (metric_sql: one parallel statement). One result per mineral, in
    the order given. Queries: a fixed number plus one per mineral (its gate) on PostgreSQL;
    the pure path (SQLite) reads each mineral's flows."""
    started = time.perf_counter()
    states = {
        row["id"]: row
        for row in Mineral.objects.filter(pk__in=list(mineral_ids)).values(
            "id", "data_version", "metrics_state__data_version", "metrics_state__computed_at"
        )
    }
    targets: dict[int, int] = {}
    for mineral_id in mineral_ids:
        state = states.get(mineral_id)
        if state is None:
            continue
        current = state["metrics_state__computed_at"] is not None and (
            state["metrics_state__data_version"] >= state["data_version"]
        )
        if force or not current:
            targets[mineral_id] = state["data_version"]
    batch = _minerals_metrics_compute(targets) if targets else []
    written = _metrics_write_many(batch, force=force) if batch else {}
    seconds = time.perf_counter() - started
    by_id = {m.mineral_id: m for m in batch}
    results = []
    for mineral_id in mineral_ids:
        state = states.get(mineral_id)
        if state is None:
            results.append(RecomputeResult(mineral_id, 0, written=False))
        elif mineral_id not in by_id:
            results.append(RecomputeResult(mineral_id, state["data_version"], written=False))
        else:
            metrics = by_id[mineral_id]
            import_rows = written.get(mineral_id)
            results.append(
                RecomputeResult(
                    mineral_id,
                    metrics.data_version,
                    written=import_rows is not None,
                    supply_rows=len(metrics.supply_rows),
                    import_rows=import_rows or 0,
                    exposure_rows=len(metrics.exposure.rows),
                    seconds=seconds,
                )
            )
    return results


# --------------------------------------------------------------------------------------------
# 4. Buyer exposure


@dataclass(frozen=True, slots=True)
class ExposureBatch:
    rows: list[ExposureMetric]
    organization_versions: dict[int, int]
    pairs: set[tuple[int, int]]


def exposures_compute(
    *,
    organization_ids: Sequence[int] | None = None,
    mineral_ids: Sequence[int] | None = None,
    mineral_versions: Mapping[int, int] | None = None,
    supply: Sequence[SupplyTable] | None = None,
    as_of: date | None = None,
) -> ExposureBatch:
    """Exposure of every (organization, mineral) pair in scope, in a fixed number of queries
    (the reads: dashboards.inputs.exposure_inputs, shared with scenarios)."""
    as_of = as_of or timezone.localdate()
    read = exposure_inputs(
        organization_ids=organization_ids, mineral_ids=mineral_ids, mineral_versions=mineral_versions, supply=supply
    )
    org_info, requirements, pairs = read.organizations, read.requirements, read.pairs
    mineral_versions = read.mineral_versions
    if not pairs:
        return ExposureBatch(rows=[], organization_versions={o: v for o, (v, _) in org_info.items()}, pairs=set())
    sources, slugs, lines, networks = read.sources, read.slugs, read.lines, read.networks
    mix_tables, measures, severities = read.mix_tables, read.measures, read.severities

    now = timezone.now()
    rows = []
    for org_id, mid in sorted(pairs):
        if mid not in mineral_versions:
            continue  # a mineral created after the versions were read: its own recompute follows
        mix_source = mix_tables.get(mid)
        exposure = risk.buyer_exposure(
            lines[(org_id, mid)],
            mineral=slugs[mid],
            as_of=as_of,
            buyer_country=org_info[org_id][1],
            network=networks[mid],
            fallback_mix=FallbackMix(mix_source),
            measures=measures,
            feoc=feoc_countries(),
            severity_by_type=severities,
        )
        required, unit = requirements.get((org_id, mid), (None, ""))
        rows.append(
            ExposureMetric(
                organization_id=org_id,
                mineral_id=mid,
                as_of=as_of,
                organization_data_version=org_info[org_id][0],
                mineral_data_version=mineral_versions[mid],
                computed_at=now,
                sources=[sources[mix_source.source_id].as_json()]
                if mix_source and mix_source.source_id in sources
                else [],
                requirement_quantity=required,
                unit=unit,
                total_volume=exposure.total_volume,
                direct_china_share=exposure.direct_china_share,
                china_controlled_share=exposure.china_controlled_share,
                upstream_china_share=exposure.upstream_china_share,
                unmapped_share=exposure.unmapped_share,
                restricted_share=exposure.restricted_share,
                china_exposed_volume=exposure.china_exposed_volume,
                issues={
                    "cycles": [list(c) for c in exposure.cycles],
                    "unknown_facility_ids": list(exposure.unknown_facility_ids),
                    "countries_without_mix": list(exposure.countries_without_mix),
                    "overallocated_facilities": list(exposure.overallocated_facilities),
                },
            )
        )
    return ExposureBatch(rows=rows, organization_versions={o: v for o, (v, _) in org_info.items()}, pairs=pairs)


def _replaces(stored: tuple[int, int, date], new: ExposureMetric) -> bool:
    """True when nothing in the new row is older than the stored one and something is newer."""
    org_v, min_v, as_of = stored
    if new.organization_data_version < org_v or new.mineral_data_version < min_v or new.as_of < as_of:
        return False
    return (new.organization_data_version, new.mineral_data_version, new.as_of) != stored


def exposures_write(
    batch: ExposureBatch, *, organization_ids: Sequence[int] | None = None, mineral_ids: Sequence[int] | None = None
) -> int:
    """Replace the stored rows in scope by the batch's, never going back a version.

    Three statements: lock the stored rows of the scope, delete the replaced and obsolete
    ones, insert the new. Rows of pairs no longer held (sourcing removed) are deleted only
    when the batch saw a newer organization version.
    """
    with transaction.atomic():
        stored = ExposureMetric.objects.select_for_update()
        if organization_ids is not None:
            stored = stored.filter(organization_id__in=organization_ids)
        if mineral_ids is not None:
            stored = stored.filter(mineral_id__in=mineral_ids)
        if organization_ids is None and mineral_ids is None:
            return 0
        existing = {
            (r[1], r[2]): (r[0], r[3], r[4], r[5])
            for r in stored.values_list(
                "id", "organization_id", "mineral_id", "organization_data_version", "mineral_data_version", "as_of"
            ).order_by()
        }
        replace = [
            row
            for row in batch.rows
            if (row.organization_id, row.mineral_id) not in existing
            or _replaces(existing[(row.organization_id, row.mineral_id)][1:], row)
        ]
        obsolete = [
            pk
            for (org_id, mid), (pk, org_v, _, _) in existing.items()
            if (org_id, mid) not in batch.pairs and batch.organization_versions.get(org_id, -1) > org_v
        ]
        doomed = obsolete + [
            existing[(r.organization_id, r.mineral_id)][0]
            for r in replace
            if (r.organization_id, r.mineral_id) in existing
        ]
        if doomed:
            ExposureMetric.objects.filter(pk__in=doomed).delete()
        if replace:
            ExposureMetric.objects.bulk_create(replace)
    return len(replace)


def organization_exposure_recompute(*, organization_id: int) -> int:
    """Recompute one buyer's exposure for every mineral it holds (its portfolio changed)."""
    batch = exposures_compute(organization_ids=[organization_id])
    return exposures_write(batch, organization_ids=[organization_id])


def organizations_exposure_recompute(*, organization_ids: Sequence[int] | None = None) -> int:
    """Recompute many buyers at once (the sweep's repair path and the benchmark)."""
    ids = (
        list(organization_ids)
        if organization_ids is not None
        else list(Organization.objects.values_list("id", flat=True))
    )
    batch = exposures_compute(organization_ids=ids)
    return exposures_write(batch, organization_ids=ids)


# --------------------------------------------------------------------------------------------
# 5. Staleness (the beat sweep) and the synchronous path


def stale_mineral_ids() -> list[int]:
    """Minerals whose metric rows are older than their data, or were never computed (one query)."""
    minerals = Mineral.objects.select_related("metrics_state").order_by("id")
    return [mineral.pk for mineral in minerals if metrics_stale(mineral)]


def stale_organization_ids(*, today: date | None = None) -> list[int]:
    """Buyers with an exposure row older than their data, their minerals' data or today,
    or holding minerals without any row yet."""
    today = today or timezone.localdate()
    behind = ExposureMetric.objects.filter(organization=OuterRef("pk")).filter(
        Q(organization_data_version__lt=OuterRef("data_version"))
        | Q(mineral_data_version__lt=F("mineral__data_version"))
        | Q(as_of__lt=today)
    )
    has_rows = ExposureMetric.objects.filter(organization=OuterRef("pk"))
    holds = Q(Exists(Requirement.objects.filter(organization=OuterRef("pk")))) | Q(
        Exists(Sourcing.objects.filter(organization=OuterRef("pk")))
    )
    stale = Organization.objects.filter(Q(Exists(behind)) | (holds & ~Q(Exists(has_rows))))
    return list(stale.values_list("id", flat=True).order_by("id"))


def all_metrics_recompute(
    *, mineral_ids: Sequence[int] | None = None, force: bool = False
) -> Iterator[RecomputeResult]:
    """The synchronous path (commands, `seed_demo`, the benchmark): every mineral as one batch
    (`minerals_metrics_recompute`), then the buyers whose rows are still behind. Yields one
    result per mineral."""
    ids = (
        list(mineral_ids)
        if mineral_ids is not None
        else list(Mineral.objects.values_list("id", flat=True).order_by("id"))
    )
    yield from minerals_metrics_recompute(mineral_ids=ids, force=force)
    if mineral_ids is None:
        stale = stale_organization_ids()
        if stale:
            organizations_exposure_recompute(organization_ids=stale)


def demo_metrics_compute() -> int:
    """Bring every metric current, synchronously: for `seed_demo` / `make run` with a broker
    configured but no worker running yet. Returns the number of minerals recomputed."""
    return sum(1 for result in all_metrics_recompute() if result.written)
