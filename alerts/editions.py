"""Events for a new data edition or import batch of a mineral, from the import log.

Every import commits an ImportBatch (who, when, counts) with its rows; a finished batch that wrote
rows becomes one event (dedupe key `import-batch:<id>`): "New data edition" when the batch created
its data source (a new edition, e.g. MCS 2026), "Data imported" otherwise (a revision, a new
year). Its minerals are those the source's rows are about (production, salient statistics, trade
through the HS codes mapped to the mineral). Batches finish in any order, so each run looks at the
batches finished in the last WINDOW without an event yet, rather than past an id cursor.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Concat
from django.utils import timezone

from alerts.fanout import notify
from alerts.models import Event, EventKind
from minerals.models import ImportBatch, Mineral, ProductionRecord, SalientStatistic, TradeFlow

WINDOW = timedelta(days=31)


def source_minerals(source_id: int) -> list[int]:
    """The minerals a data source has rows for (one query of EXISTS per kind of row)."""
    # A join through the mineral's codes: each code is then one probe of the (code, year, source,
    # basis) index. An IN (subquery) here read every flow of the source, once per mineral
    # (15 s at 2 M flows; docs/performance.md, "Import").
    traded = TradeFlow.objects.filter(source_id=source_id, commodity_code__mappings__mineral=OuterRef("pk"))
    has_rows = (
        Exists(ProductionRecord.objects.filter(source_id=source_id, mineral=OuterRef("pk")))
        | Exists(SalientStatistic.objects.filter(source_id=source_id, mineral=OuterRef("pk")))
        | Exists(traded)
    )
    return list(Mineral.objects.filter(has_rows).values_list("pk", flat=True).order_by("pk"))


def data_editions_capture() -> int:
    """Turn finished import batches into events and notifications; returns events created."""
    key = Concat(Value("import-batch:"), OuterRef("pk"), output_field=CharField())
    batches = list(
        ImportBatch.objects.filter(
            status=ImportBatch.Status.SUCCEEDED,
            finished_at__gte=timezone.now() - WINDOW,
            source__isnull=False,
        )
        .exclude(inserted=0, updated=0)
        .filter(~Exists(Event.objects.filter(dedupe_key=key)))
        .select_related("source")
        .order_by("pk")
    )
    if not batches:
        return 0
    with transaction.atomic():
        fresh = []
        for batch in batches:
            assert batch.source is not None
            assert batch.finished_at is not None
            new_edition = bool(batch.report.get("created_source"))
            kind = EventKind.DATA_EDITION if new_edition else EventKind.DATA_IMPORT
            source = batch.source
            event = Event(
                kind=kind,
                occurred_at=batch.finished_at,
                title=f"{EventKind(kind).label}: {source} ({batch.inserted} rows added, {batch.updated} revised)"[:400],
                dedupe_key=f"import-batch:{batch.pk}",
                details={
                    "source": source.key,
                    "edition": source.edition,
                    "importer": batch.importer,
                    "batch": batch.pk,
                    "inserted": batch.inserted,
                    "updated": batch.updated,
                },
            )
            fresh.append((event, source_minerals(source.pk)))
        Event.objects.bulk_create([e for e, _ in fresh], ignore_conflicts=True)
        created = {e.dedupe_key: e for e in Event.objects.filter(dedupe_key__in=[e.dedupe_key for e, _ in fresh])}
        Event.minerals.through.objects.bulk_create(
            [
                Event.minerals.through(event_id=created[e.dedupe_key].pk, mineral_id=m)
                for e, minerals in fresh
                for m in minerals
            ],
            ignore_conflicts=True,
        )
        notify(created.values())
    return len(fresh)
