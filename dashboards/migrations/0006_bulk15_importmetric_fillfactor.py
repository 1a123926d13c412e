"""Room on each page of dashboards_importmetric for the next version of its rows.

A full recompute rewrites every import row (its data version and time change). With full
pages each new version lands on another page and all five indexes get a new entry per row;
with free room on the page PostgreSQL makes a heap-only (HOT) update: no index entry, the old
version pruned in place. Measured on 12,000 rows: 1.7-2.4 s for the update at fillfactor 100,
0.19 s at 45 (docs/performance.md, "Recompute"). Only new pages follow the setting: the next
full recompute moves the rows there. PostgreSQL only (SQLite has no fillfactor).
"""

from django.db import migrations


def _set(fillfactor: int | None):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        if fillfactor is None:
            schema_editor.execute("ALTER TABLE dashboards_importmetric RESET (fillfactor)")
        else:
            schema_editor.execute(f"ALTER TABLE dashboards_importmetric SET (fillfactor = {int(fillfactor)})")

    return run


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0005_truth2_nir_published_estimate")]

    operations = [migrations.RunPython(_set(45), _set(None))]
