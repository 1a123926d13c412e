"""dashboards 0001-0006 squashed: one CreateModel a model, with its fields, indexes and constraints.

Written by `makemigrations` from the models (the old files moved aside), then every AddIndex and
AddConstraint folded into its CreateModel's options: the old chain's separate AddIndex, AddConstraint
and AlterField operations each made Django re-render the migration state's models, most of the
time `migrate` took on an empty database (docs/performance.md, "Migrations"). A fresh database
runs this migration alone; a database that applied every replaced migration records it as
applied and runs nothing; one that applied only some of them runs the rest of the old files,
which are kept for that reason (docs/operations.md, "Upgrades and migrations").

Kept: 0006's fillfactor 45 on dashboards_importmetric (PostgreSQL only; the reason is in that
file). Left out: 0002's RunPython `drop_import_rows`, which deletes stored import rows and marks
the minerals for recompute; an empty database has none.
"""

import django.db.models.deletion
from django.db import migrations, models


def _set_importmetric_fillfactor(fillfactor: int | None):  # type: ignore[no-untyped-def]
    """As dashboards 0006: room on each page for a row's next version (heap-only updates)."""

    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        if fillfactor is None:
            schema_editor.execute("ALTER TABLE dashboards_importmetric RESET (fillfactor)")
        else:
            schema_editor.execute(f"ALTER TABLE dashboards_importmetric SET (fillfactor = {int(fillfactor)})")

    return run


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ('dashboards', '0001_initial'),
        ('dashboards', '0002_importmetric_partners'),
        ('dashboards', '0003_unknown_is_not_zero'),
        ('dashboards', '0004_supplymetric_estimated_countries'),
        ('dashboards', '0005_truth2_nir_published_estimate'),
        ('dashboards', '0006_bulk15_importmetric_fillfactor'),
    ]

    dependencies = [
        ('minerals', '0001_initial'),
        ('suppliers', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='MineralMetricsState',
            fields=[
                ('mineral', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='metrics_state', serialize=False, to='minerals.mineral')),
                ('data_version', models.PositiveBigIntegerField(default=0)),
                ('computed_at', models.DateTimeField(blank=True, null=True)),
                ('recompute_count', models.PositiveIntegerField(default=0, help_text='Recomputes that wrote rows (not skipped).')),
                ('duration_ms', models.FloatField(blank=True, help_text='Duration of the last recompute.', null=True)),
            ],
            options={
                'verbose_name': 'mineral metrics state',
            },
        ),
        migrations.CreateModel(
            name='ExposureMetric',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('as_of', models.DateField()),
                ('organization_data_version', models.PositiveBigIntegerField()),
                ('mineral_data_version', models.PositiveBigIntegerField()),
                ('computed_at', models.DateTimeField()),
                ('sources', models.JSONField(default=list)),
                ('requirement_quantity', models.FloatField(null=True)),
                ('unit', models.CharField(blank=True, max_length=2)),
                ('total_volume', models.FloatField()),
                ('direct_china_share', models.FloatField(null=True)),
                ('china_controlled_share', models.FloatField(null=True)),
                ('upstream_china_share', models.FloatField(null=True)),
                ('unmapped_share', models.FloatField(null=True)),
                ('restricted_share', models.FloatField(null=True)),
                ('china_exposed_volume', models.FloatField()),
                ('issues', models.JSONField(default=dict)),
                ('mineral', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='exposure_metrics', to='suppliers.organization')),
            ],
            options={
                'ordering': ['organization_id', 'mineral_id'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'mineral'), name='exposuremetric_unique'), models.CheckConstraint(condition=models.Q(('total_volume__gte', 0)), name='exposuremetric_volume_non_negative')],
            },
        ),
        migrations.CreateModel(
            name='ImportMetric',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField()),
                ('data_version', models.PositiveBigIntegerField(help_text='Mineral.data_version this row reflects.')),
                ('computed_at', models.DateTimeField()),
                ('sources', models.JSONField(default=list, help_text='Input sources: [{"id", "key", "edition"}].')),
                ('total_value_usd', models.FloatField(null=True)),
                ('import_coverage', models.FloatField(null=True)),
                ('import_china_share', models.FloatField(null=True)),
                ('import_feoc_share', models.FloatField(null=True)),
                ('import_hhi', models.FloatField(null=True)),
                ('import_hhi_band', models.CharField(blank=True, max_length=10)),
                ('partners_json', models.TextField(default='[]')),
                ('total_quantity_kg', models.FloatField(null=True)),
                ('quantity_coverage', models.FloatField(null=True)),
                ('import_china_share_by_quantity', models.FloatField(null=True)),
                ('import_feoc_share_by_quantity', models.FloatField(null=True)),
                ('import_hhi_by_quantity', models.FloatField(null=True)),
                ('nir', models.FloatField(help_text='Computed from trade and production (fraction): a cross-check.', null=True)),
                ('nir_note', models.CharField(blank=True, help_text='Why the computed NIR is unknown.', max_length=100)),
                ('nir_published', models.FloatField(help_text='As published, e.g. USGS (fraction); the headline.', null=True)),
                ('nir_published_bound', models.CharField(blank=True, help_text="'>' or '<' when published as a bound, 'E' net exporter (0).", max_length=1)),
                ('nir_published_estimate', models.BooleanField(default=False, help_text="The published NIR is an estimate (USGS 'e': the most recent year).")),
                ('destination', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.country')),
                ('mineral', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
            ],
            options={
                'ordering': ['mineral_id', 'destination_id', '-year'],
                'constraints': [models.UniqueConstraint(fields=('mineral', 'destination', 'year'), name='importmetric_unique')],
            },
        ),
        migrations.CreateModel(
            name='SupplyMetric',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField()),
                ('data_version', models.PositiveBigIntegerField(help_text='Mineral.data_version this row reflects.')),
                ('computed_at', models.DateTimeField()),
                ('sources', models.JSONField(default=list, help_text='Input sources: [{"id", "key", "edition"}].')),
                ('stage', models.CharField(choices=[('mine', 'Mine'), ('refinery', 'Refinery / smelter / primary production'), ('recycling', 'Recycling'), ('component', 'Component (magnets, anode material, ...)')], max_length=10)),
                ('unit', models.CharField(max_length=2)),
                ('world_total', models.FloatField(null=True)),
                ('world_total_source', models.CharField(max_length=20)),
                ('coverage', models.FloatField(null=True)),
                ('residual_share', models.FloatField(null=True)),
                ('china_share', models.FloatField(null=True)),
                ('feoc_share', models.FloatField(null=True)),
                ('top3_share', models.FloatField(null=True)),
                ('hhi', models.FloatField(null=True)),
                ('hhi_band', models.CharField(blank=True, max_length=10)),
                ('complete', models.BooleanField()),
                ('unknown', models.BooleanField()),
                ('withheld_countries', models.JSONField(default=list)),
                ('unpublished_countries', models.JSONField(default=list, help_text='Rows published as NA or empty (unknown).')),
                ('estimated_countries', models.JSONField(default=list, help_text='Rows the edition marks as estimates (e).')),
                ('china_share_upper', models.FloatField(help_text="China not listed: its share is at most the 'Other countries' share (else unknown).", null=True)),
                ('bounded_countries', models.JSONField(default=list)),
                ('country_shares', models.JSONField(default=list)),
                ('mineral', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
            ],
            options={
                'ordering': ['mineral_id', 'stage', '-year'],
                'constraints': [models.UniqueConstraint(fields=('mineral', 'stage', 'year'), name='supplymetric_unique')],
            },
        ),
        migrations.RunPython(_set_importmetric_fillfactor(45), _set_importmetric_fillfactor(None)),
    ]
