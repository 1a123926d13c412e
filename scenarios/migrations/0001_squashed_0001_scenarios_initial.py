"""scenarios 0001 squashed: one CreateModel a model, with its fields and constraints in its options.

Written by `makemigrations` from the models (the old files moved aside), then every AddIndex and
AddConstraint folded into its CreateModel's options: the old chain's separate AddIndex, AddConstraint
and AlterField operations each made Django re-render the migration state's models, most of the
time `migrate` took on an empty database (docs/performance.md, "Migrations"). A fresh database
runs this migration alone; a database that applied every replaced migration records it as
applied and runs nothing; one that applied only some of them runs the rest of the old files,
which are kept for that reason (docs/operations.md, "Upgrades and migrations").

The old migration holds no RunPython or RunSQL.
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ('scenarios', '0001_scenarios_initial'),
    ]

    dependencies = [
        ('minerals', '0007_policy_measure_source'),
        ('suppliers', '0003_requirement_stage'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Scenario',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.SlugField(blank=True, help_text='Set for the built-in scenarios only.', max_length=80)),
                ('name', models.CharField(max_length=200)),
                ('assumptions', models.TextField(blank=True, help_text='What the scenario assumes, in words.')),
                ('as_of', models.DateField(help_text="Production and import tables: the newest up to this date's year.")),
                ('window_start', models.DateField()),
                ('window_end', models.DateField()),
                ('licence_approval_rate', models.FloatField(blank=True, help_text='Share of licensed exports that still flow (0..1); empty keeps the severity table.', null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)])),
                ('revision', models.PositiveIntegerField(default=0, editable=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ('organization', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='scenarios', to='suppliers.organization')),
            ],
            options={
                'ordering': ['organization_id', 'name'],
                'constraints': [models.CheckConstraint(condition=models.Q(('window_end__gte', models.F('window_start'))), name='scenario_window_order'), models.CheckConstraint(condition=models.Q(('licence_approval_rate__isnull', True), models.Q(('licence_approval_rate__gte', 0), ('licence_approval_rate__lte', 1)), _connector='OR'), name='scenario_approval_rate_0_1'), models.UniqueConstraint(condition=models.Q(('key', ''), _negated=True), fields=('key',), name='scenario_builtin_key_unique')],
            },
        ),
        migrations.CreateModel(
            name='PolicyShock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('lapse', 'a suspension lapses'), ('extend', 'a suspension is extended'), ('widen', 'an existing measure is widened'), ('new', 'a new measure')], max_length=8)),
                ('on', models.DateField(blank=True, help_text='Lapse: applies again from; widen/new: in force from.', null=True)),
                ('until', models.DateField(blank=True, help_text='Extend: suspended until (included); new: ends after.', null=True)),
                ('measure_type', models.CharField(blank=True, choices=[('export_ban', 'Export ban'), ('announced_export_ban', 'Announced export ban (from its effective date)'), ('export_quota', 'Export quota'), ('export_licence', 'Export licence requirement'), ('export_tax', 'Export tax'), ('extraterritorial_rule', 'Extraterritorial rule'), ('technology_export_ban', 'Technology export ban'), ('domestic_support', 'Domestic support (not a restriction)')], max_length=24)),
                ('issuer', models.ForeignKey(blank=True, help_text='Empty: any issuer.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='minerals.country')),
                ('measure', models.ForeignKey(blank=True, help_text='Empty: every measure by the issuer.', null=True, on_delete=django.db.models.deletion.CASCADE, to='minerals.policymeasure')),
                ('minerals', models.ManyToManyField(blank=True, related_name='+', to='minerals.mineral')),
                ('targets', models.ManyToManyField(blank=True, related_name='+', to='minerals.country')),
                ('scenario', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='policy_shocks', to='scenarios.scenario')),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('kind__in', ['lapse', 'extend', 'widen', 'new'])), name='policyshock_kind'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'new'), _negated=True), models.Q(('issuer__isnull', False), models.Q(('measure_type', ''), _negated=True)), _connector='OR'), name='policyshock_new_has_issuer_and_type'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'extend'), _negated=True), ('until__isnull', False), _connector='OR'), name='policyshock_extend_until')],
            },
        ),
        migrations.CreateModel(
            name='DemandShock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('change_percent', models.FloatField(help_text='+20 = 20 % more; -100 = none.', validators=[django.core.validators.MinValueValidator(-100.0), django.core.validators.MaxValueValidator(1000.0)])),
                ('mineral', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
                ('scenario', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='demand_shocks', to='scenarios.scenario')),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('change_percent__gte', -100), ('change_percent__lte', 1000)), name='demandshock_change_range')],
            },
        ),
        migrations.CreateModel(
            name='ScenarioRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=8)),
                ('progress', models.PositiveSmallIntegerField(default=0, validators=[django.core.validators.MaxValueValidator(100)])),
                ('data_version', models.CharField(blank=True, help_text='The data (and scenario revision) it used.', max_length=200)),
                ('minerals', models.JSONField(blank=True, default=list, help_text='Per mineral, baseline vs scenario.')),
                ('error', models.TextField(blank=True)),
                ('requested_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('scenario', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='scenarios.scenario')),
            ],
            options={
                'ordering': ['-id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'done', 'failed'])), name='scenariorun_status'), models.CheckConstraint(condition=models.Q(('progress__lte', 100)), name='scenariorun_progress_0_100')],
            },
        ),
        migrations.CreateModel(
            name='ScenarioBuyerResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('minerals', models.JSONField(default=list)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.organization')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='buyer_results', to='scenarios.scenariorun')),
            ],
            options={
                'ordering': ['run_id', 'organization_id'],
                'constraints': [models.UniqueConstraint(fields=('run', 'organization'), name='scenariobuyer_unique')],
            },
        ),
        migrations.CreateModel(
            name='SupplyShock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('country_output', "a country's output cut"), ('facility_offline', 'a facility offline'), ('facility_delay', "a facility's start delayed")], max_length=16)),
                ('cut_percent', models.FloatField(blank=True, help_text='100 = removed.', null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(100.0)])),
                ('delay_years', models.PositiveSmallIntegerField(blank=True, null=True, validators=[django.core.validators.MaxValueValidator(50)])),
                ('country', models.ForeignKey(blank=True, help_text='Empty: the largest producer outside China (per mineral).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='minerals.country')),
                ('facility', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.facility')),
                ('mineral', models.ForeignKey(blank=True, help_text='Empty: every mineral.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
                ('scenario', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='supply_shocks', to='scenarios.scenario')),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('kind__in', ['country_output', 'facility_offline', 'facility_delay'])), name='supplyshock_kind'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'country_output'), _negated=True), models.Q(('cut_percent__gte', 0), ('cut_percent__lte', 100)), _connector='OR'), name='supplyshock_cut_0_100'), models.CheckConstraint(condition=models.Q(('kind', 'country_output'), ('facility__isnull', False), _connector='OR'), name='supplyshock_facility_named'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'facility_delay'), _negated=True), ('delay_years__gte', 1), _connector='OR'), name='supplyshock_delay_positive')],
            },
        ),
    ]
