"""ImportMetric stores the partners' amounts (value, quantity; JSON text) instead of two share vectors.

The shares follow from the amounts and the totals on read (ImportMetric.partner_shares). The
stored rows cannot be converted (the amounts are not in them): they are deleted and every
mineral's metrics marked not computed, so the next recompute (the beat sweep, seed_demo or
`recompute_metrics --all`) writes them again.
"""

from django.db import migrations, models


def drop_import_rows(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("dashboards", "ImportMetric").objects.all().delete()
    apps.get_model("dashboards", "MineralMetricsState").objects.update(computed_at=None)


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0001_initial")]

    operations = [
        migrations.RunPython(drop_import_rows, migrations.RunPython.noop),
        migrations.RemoveField(model_name="importmetric", name="partner_shares"),
        migrations.RemoveField(model_name="importmetric", name="partner_shares_by_quantity"),
        migrations.AddField(model_name="importmetric", name="partners_json", field=models.TextField(default="[]")),
    ]
