"""alerts 0001-0002 squashed: one CreateModel a model, with its fields, indexes and constraints.

Written by `makemigrations` from the models (the old files moved aside), then every AddIndex and
AddConstraint folded into its CreateModel's options: the old chain's separate AddIndex, AddConstraint
and AlterField operations each made Django re-render the migration state's models, most of the
time `migrate` took on an empty database (docs/performance.md, "Migrations"). A fresh database
runs this migration alone; a database that applied every replaced migration records it as
applied and runs nothing; one that applied only some of them runs the rest of the old files,
which are kept for that reason (docs/operations.md, "Upgrades and migrations").

The old migrations hold no RunPython or RunSQL.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ('alerts', '0001_initial'),
        ('alerts', '0002_alerts2_thresholds_webhooks'),
    ]

    dependencies = [
        ('minerals', '0007_policy_measure_source'),
        ('suppliers', '0003_requirement_stage'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CaptureCursor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80, unique=True)),
                ('position', models.BigIntegerField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('policy.created', 'Policy measure added'), ('policy.changed', 'Policy measure changed'), ('policy.suspended', 'Policy measure suspended'), ('policy.ended', 'Policy measure ended'), ('policy.removed', 'Policy measure removed'), ('suspension.ends_in_30_days', 'Suspension ends in 30 days'), ('suspension.ends_in_7_days', 'Suspension ends in 7 days'), ('suspension.ends_in_1_day', 'Suspension ends tomorrow'), ('suspension.lapsed', 'Suspension ran out: measure applies again'), ('data.edition', 'New data edition'), ('data.import', 'Data imported'), ('threshold.crossed', 'Threshold crossed')], max_length=40)),
                ('occurred_at', models.DateTimeField(help_text='When the change was committed, or the day a date came due.')),
                ('title', models.CharField(max_length=400)),
                ('measure_key', models.CharField(blank=True, max_length=80)),
                ('measure_type', models.CharField(blank=True, choices=[('export_ban', 'Export ban'), ('announced_export_ban', 'Announced export ban (from its effective date)'), ('export_quota', 'Export quota'), ('export_licence', 'Export licence requirement'), ('export_tax', 'Export tax'), ('extraterritorial_rule', 'Extraterritorial rule'), ('technology_export_ban', 'Technology export ban'), ('domestic_support', 'Domestic support (not a restriction)')], max_length=30)),
                ('due_on', models.DateField(blank=True, help_text='Date-driven events: the date they are about.', null=True)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('dedupe_key', models.CharField(max_length=120, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('issuer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='minerals.country')),
                ('measure', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='minerals.policymeasure')),
                ('minerals', models.ManyToManyField(blank=True, related_name='+', to='minerals.mineral')),
                ('organization', models.ForeignKey(blank=True, help_text='Empty: public.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.organization')),
            ],
            options={
                'ordering': ['-id'],
                'indexes': [models.Index(fields=['organization', 'id'], name='alerts_event_org_id')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('due_on__isnull', False)), fields=('measure_key', 'due_on', 'kind'), name='alerts_event_due_once'), models.CheckConstraint(condition=models.Q(('kind__in', ['policy.created', 'policy.changed', 'policy.suspended', 'policy.ended', 'policy.removed', 'suspension.ends_in_30_days', 'suspension.ends_in_7_days', 'suspension.ends_in_1_day', 'suspension.lapsed', 'data.edition', 'data.import', 'threshold.crossed'])), name='alerts_event_kind_valid')],
            },
        ),
        migrations.CreateModel(
            name='Notification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('read_at', models.DateTimeField(blank=True, null=True)),
                ('emailed_at', models.DateTimeField(blank=True, help_text='Sent by e-mail (instant or in a digest).', null=True)),
                ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='alerts.event')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alert_notifications', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-id'],
                'indexes': [models.Index(fields=['user', 'read_at'], name='alerts_notification_unread')],
                'constraints': [models.UniqueConstraint(fields=('user', 'event'), name='alerts_notification_once')],
            },
        ),
        migrations.CreateModel(
            name='Threshold',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('metric', models.CharField(choices=[('china_share', "China's share of the buyer's supply"), ('restricted_share', "Restricted share of the buyer's supply"), ('supply_risk', 'Supply risk (EU method)')], max_length=20)),
                ('level', models.FloatField(help_text='Shares as fractions (0.5 = 50 %); supply risk as is (1.0).')),
                ('mineral', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.organization')),
                ('user', models.ForeignKey(blank=True, help_text="Empty: the organization's default (set by its admin).", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alert_thresholds', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['metric', 'level'],
                'constraints': [models.CheckConstraint(condition=models.Q(('metric__in', ['china_share', 'restricted_share', 'supply_risk'])), name='alerts_threshold_metric'), models.CheckConstraint(condition=models.Q(('level__gte', 0)), name='alerts_threshold_level_non_negative')],
            },
        ),
        migrations.CreateModel(
            name='ThresholdState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('metric', models.CharField(choices=[('china_share', "China's share of the buyer's supply"), ('restricted_share', "Restricted share of the buyer's supply"), ('supply_risk', 'Supply risk (EU method)')], max_length=20)),
                ('level', models.FloatField()),
                ('above', models.BooleanField()),
                ('value', models.FloatField(null=True)),
                ('crossings', models.PositiveIntegerField(default=0)),
                ('changed_at', models.DateTimeField()),
                ('mineral', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.organization')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('organization', 'mineral', 'metric', 'level'), name='alerts_threshold_state_once')],
            },
        ),
        migrations.CreateModel(
            name='Watch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('measure_type', models.CharField(blank=True, choices=[('export_ban', 'Export ban'), ('announced_export_ban', 'Announced export ban (from its effective date)'), ('export_quota', 'Export quota'), ('export_licence', 'Export licence requirement'), ('export_tax', 'Export tax'), ('extraterritorial_rule', 'Extraterritorial rule'), ('technology_export_ban', 'Technology export ban'), ('domestic_support', 'Domestic support (not a restriction)')], max_length=30)),
                ('country', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.country')),
                ('mineral', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='minerals.mineral')),
                ('organization', models.ForeignKey(blank=True, help_text='An organization default (set by its admin): every member watches it.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.organization')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alert_watches', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('country__isnull', True), ('measure_type', ''), ('mineral__isnull', False)), models.Q(('country__isnull', False), ('measure_type', ''), ('mineral__isnull', True)), models.Q(('country__isnull', True), ('mineral__isnull', True), models.Q(('measure_type', ''), _negated=True)), _connector='OR'), name='alerts_watch_one_target'), models.CheckConstraint(condition=models.Q(models.Q(('organization__isnull', True), ('user__isnull', False)), models.Q(('organization__isnull', False), ('user__isnull', True)), _connector='OR'), name='alerts_watch_one_owner'), models.UniqueConstraint(condition=models.Q(('mineral__isnull', False)), fields=('user', 'mineral'), name='alerts_watch_mineral_once'), models.UniqueConstraint(condition=models.Q(('country__isnull', False)), fields=('user', 'country'), name='alerts_watch_country_once'), models.UniqueConstraint(condition=models.Q(('measure_type', ''), _negated=True), fields=('user', 'measure_type'), name='alerts_watch_type_once')],
            },
        ),
        migrations.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url', models.URLField(max_length=500)),
                ('secret', models.CharField(help_text='HMAC-SHA256 key of the signatures (shown to the admin).', max_length=80)),
                ('description', models.CharField(blank=True, max_length=200)),
                ('is_active', models.BooleanField(default=True)),
                ('consecutive_failures', models.PositiveIntegerField(default=0)),
                ('disabled_reason', models.CharField(blank=True, max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='suppliers.organization')),
            ],
            options={
                'ordering': ['organization_id', 'id'],
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed (retries exhausted)')], default='pending', max_length=10)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField()),
                ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='alerts.event')),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='alerts.webhookendpoint')),
            ],
            options={
                'verbose_name_plural': 'webhook deliveries',
                'ordering': ['-id'],
                'indexes': [models.Index(fields=['endpoint', 'status', 'next_attempt_at'], name='alerts_delivery_due')],
                'constraints': [models.UniqueConstraint(fields=('endpoint', 'event'), name='alerts_delivery_once'), models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'delivered', 'failed'])), name='alerts_delivery_status')],
            },
        ),
        migrations.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField()),
                ('duration_ms', models.FloatField()),
                ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('error', models.CharField(blank=True, max_length=300)),
                ('event_ids', models.JSONField(default=list)),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempts', to='alerts.webhookendpoint')),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='DeliveryPreference',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email', models.CharField(choices=[('off', 'No e-mail'), ('instant', 'At once, one e-mail per alert'), ('daily', 'A daily digest')], default='off', max_length=10)),
                ('organization', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alert_preference', to='suppliers.organization')),
                ('user', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alert_preference', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('organization__isnull', True), ('user__isnull', False)), models.Q(('organization__isnull', False), ('user__isnull', True)), _connector='OR'), name='alerts_preference_one_owner'), models.CheckConstraint(condition=models.Q(('email__in', ['off', 'instant', 'daily'])), name='alerts_preference_email_mode')],
            },
        ),
    ]
