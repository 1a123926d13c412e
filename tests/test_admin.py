"""The curator admin: every page answers, changelists make a fixed number of queries, only staff get in."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from oauth2_provider.models import Application

from minerals.models import (
    CommodityCode,
    DataSource,
    ImportBatch,
    MeasureTypeSeverity,
    Mineral,
    MineralParameter,
    ProductionRecord,
    TradeFlow,
    TradeRestrictionFactor,
)
from suppliers.models import ApplicationOrganization, Membership, Organization, TransitionPlan

pytestmark = pytest.mark.django_db

CURATED_APPS = {"minerals", "suppliers"}  # dashboards holds computed metrics, not curated data
MODEL_ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in CURATED_APPS
    ),
    key=lambda pair: pair[0]._meta.label,
)
IDS = [model._meta.label for model, _ in MODEL_ADMINS]


@pytest.fixture
def rows_everywhere(curator):
    """At least three rows in every curated table the demo dataset leaves (nearly) empty."""
    source = DataSource.objects.first()
    codes = list(CommodityCode.objects.all()[:3])
    minerals = list(Mineral.objects.all()[:3])
    for i, code in enumerate(codes):
        TradeFlow.objects.create(
            year=2024,
            exporter_id="CHN",
            importer_id=["USA", "JPN", "DEU"][i],
            commodity_code=code,
            basis="import",
            value_usd=1000.0 * (i + 1),
            source=source,
        )
        ImportBatch.objects.create(source=source, importer="usgs_mcs", file_name=f"f{i}.csv", started_by=curator)
    for i, mineral in enumerate(minerals):
        MineralParameter.objects.create(mineral=mineral, name="eol_rir", value=0.1 * i, source=source)
        TradeRestrictionFactor.objects.create(mineral=mineral, country_id="CHN", t_value=1.1)
    for measure_type in ["export_ban", "export_quota", "export_tax"]:
        MeasureTypeSeverity.objects.create(measure_type=measure_type, severity=0.5)
    organization = Organization.objects.first()
    for name in ["Second Buyer (fictional)", "Third Buyer (fictional)"]:
        other = Organization.objects.create(
            name=name, slug=name.split()[0].lower(), country_id="USA", is_fictional=True
        )
        TransitionPlan.objects.create(organization=other, name="Draft")  # the demo has one plan
    for i in range(3):
        user = get_user_model().objects.create_user(f"member{i}")
        Membership.objects.create(user=user, organization=organization, role="viewer")
        application = Application.objects.create(
            name=f"partner {i}", user=curator, client_type="confidential", authorization_grant_type="client-credentials"
        )
        ApplicationOrganization.objects.create(application=application, organization=organization)


def changelist_queries(client, model, model_admin, per_page: int, monkeypatch) -> int:
    monkeypatch.setattr(model_admin, "list_per_page", per_page)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    # Once first: the process's caches (content types, cleared by the demo's restore after a
    # transactional test) are warm, as for any request after the first; the count is the page's.
    assert client.get(url).status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=IDS)
def test_changelist_query_count_does_not_grow_with_rows(
    curator_client, rows_everywhere, model, model_admin, monkeypatch
):
    assert model.objects.count() >= 3, "the test needs rows to compare pages of one and of many"
    one = changelist_queries(curator_client, model, model_admin, 1, monkeypatch)
    many = changelist_queries(curator_client, model, model_admin, 50, monkeypatch)
    assert many == one, f"{model._meta.label}: {one} queries for one row, {many} for a page of rows (N+1)"


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=IDS)
def test_add_change_and_history_pages_answer(curator_client, rows_everywhere, model, model_admin):
    opts = model._meta
    obj = model.objects.first()
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert curator_client.get(change).status_code == 200
    history = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
    assert curator_client.get(history).status_code == 200
    if model is not ImportBatch:  # written by the importers only
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        assert curator_client.get(add).status_code == 200


def test_every_curated_model_is_registered():
    from django.apps import apps

    registered = {model for model, _ in MODEL_ADMINS}
    curated = {
        m
        for m in apps.get_models()
        if m._meta.app_label in {"minerals", "suppliers"} and not m.__name__.startswith("Historical")
    }
    assert curated - registered == set()


def test_non_staff_users_cannot_reach_the_admin(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("buyer-only"))
    for url in [reverse("admin:index"), reverse("admin:minerals_productionrecord_changelist")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_an_admin_edit_goes_through_the_services(curator_client, curator):
    record = ProductionRecord.objects.filter(mineral__slug="tungsten", country_id="CHN").first()
    version = record.mineral.data_version
    url = reverse("admin:minerals_productionrecord_change", args=[record.pk])
    form = curator_client.get(url).context["adminform"].form
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    data.update({"quantity": 1234.0, "notes": "curator edit"})
    data = {k: v for k, v in data.items() if not (isinstance(v, bool) and not v)}
    response = curator_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    record.refresh_from_db()
    assert record.quantity == 1234.0
    assert record.mineral.data_version == version + 1
    assert record.history.first().history_user == curator


# --- Import/export permissions (issue 16, probing 1) ------------------------------------------

IMPORT_EXPORT_ADMINS = [(m, a) for m, a in MODEL_ADMINS if hasattr(a, "has_import_permission")]
IMPORT_EXPORT_IDS = [model._meta.label for model, _ in IMPORT_EXPORT_ADMINS]
ORGANIZATION_OWNED = {
    "suppliers.Organization",
    "suppliers.Membership",
    "suppliers.Requirement",
    "suppliers.Sourcing",
    "suppliers.TransitionPlan",
    "suppliers.PlanStep",
}


def _staff(django_user_model, name: str, *codenames: str):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(name, is_staff=True)
    for label in codenames:
        app_label, codename = label.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return django_user_model.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def _admin_url(model, action: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}")


def _import_csv(client, model, text: str):
    """The admin's two-step import: upload (dry run and confirm page), then process the confirmed file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
    first = client.post(_admin_url(model, "import"), {"format": "0", "import_file": upload})
    if first.status_code != 200 or first.context is None or "confirm_form" not in first.context:
        return first
    confirm = first.context["confirm_form"].initial
    return client.post(_admin_url(model, "process_import"), confirm)


def test_every_import_export_admin_is_curated():
    """The permission rules live in CuratedModelAdmin: an import-export admin outside it would have none."""
    from minerals.admin import CuratedModelAdmin

    assert IMPORT_EXPORT_ADMINS
    assert all(isinstance(a, CuratedModelAdmin) for _, a in IMPORT_EXPORT_ADMINS)


@pytest.mark.parametrize(("model", "model_admin"), IMPORT_EXPORT_ADMINS, ids=IMPORT_EXPORT_IDS)
def test_staff_without_permissions_can_neither_import_nor_export(client, django_user_model, model, model_admin):
    client.force_login(_staff(django_user_model, "staff-no-perms"))
    assert client.get(_admin_url(model, "import")).status_code == 403
    assert client.post(_admin_url(model, "process_import"), {}).status_code == 403
    assert client.get(_admin_url(model, "export")).status_code == 403
    assert client.post(_admin_url(model, "export"), {"format": "0"}).status_code == 403


@pytest.mark.parametrize(("model", "model_admin"), IMPORT_EXPORT_ADMINS, ids=IMPORT_EXPORT_IDS)
def test_export_needs_view_and_import_needs_add_and_change(client, django_user_model, model, model_admin):
    opts = model._meta
    perm = f"{opts.app_label}.%s_{opts.model_name}"
    viewer = _staff(django_user_model, "viewer", perm % "view")
    adder = _staff(django_user_model, "adder", perm % "add", perm % "view")
    editor = _staff(django_user_model, "editor", perm % "add", perm % "change")
    client.force_login(viewer)
    assert client.get(_admin_url(model, "export")).status_code == 200
    assert client.get(_admin_url(model, "import")).status_code == 403
    client.force_login(adder)
    assert client.get(_admin_url(model, "import")).status_code == 403
    client.force_login(editor)
    expected = 403 if opts.label in ORGANIZATION_OWNED else 200
    assert client.get(_admin_url(model, "import")).status_code == expected


def test_organization_owned_tables_are_exactly_those_with_an_organization():
    """Every table owned by an organization needs the dedicated import permission (none is forgotten)."""
    from suppliers.admin import organization_owned

    owned = {m._meta.label for m, _ in IMPORT_EXPORT_ADMINS if organization_owned(m)}
    assert owned == ORGANIZATION_OWNED


def test_a_curator_cannot_import_a_membership_making_them_admin_of_another_organization(client, django_user_model):
    target = Organization.objects.create(name="Victim Buyer (fictional)", slug="victim", country_id="USA")
    curator = _staff(
        django_user_model,
        "membership-curator",
        *[f"suppliers.{a}_membership" for a in ("add", "change", "view")],
    )
    client.force_login(curator)
    response = _import_csv(client, Membership, f"id,user,organization,role\n,{curator.pk},{target.pk},admin\n")
    assert response.status_code == 403
    assert not Membership.objects.filter(user=curator).exists()
    client.force_login(curator)
    assert client.get(reverse("dashboards:portfolio_org", args=[target.slug])).status_code == 404


def test_the_dedicated_permission_lets_a_membership_import_through(client, django_user_model):
    target = Organization.objects.create(name="Granted Buyer (fictional)", slug="granted", country_id="USA")
    member = django_user_model.objects.create_user("imported-member")
    importer = _staff(
        django_user_model,
        "org-importer",
        "minerals.import_organization_data",
        *[f"suppliers.{a}_membership" for a in ("add", "change", "view")],
    )
    client.force_login(importer)
    response = _import_csv(client, Membership, f"id,user,organization,role\n,{member.pk},{target.pk},viewer\n")
    assert response.status_code == 302, response
    assert Membership.objects.filter(user=member, organization=target, role="viewer").exists()


# --- Uploading a data file needs its own permission (issue 16, probing 2) -------------------------

USGS_WORLD = (
    "SOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES\n"
    'MCS2025,Gallium,China,Primary production,kilograms,"1","2",\n'
)


@pytest.fixture
def upload_dirs(tmp_path, settings):
    settings.LODESTONE_IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"


def _upload(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"importer": "usgs_mcs", "file": SimpleUploadedFile("MCS2025_World_Data_upload.csv", USGS_WORLD.encode())}
    return client.post(reverse("admin:minerals_importbatch_upload"), data)


def test_a_read_only_auditor_cannot_upload_a_data_file(client, django_user_model, upload_dirs):
    auditor = _staff(django_user_model, "auditor", "minerals.view_importbatch", "minerals.view_productionrecord")
    client.force_login(auditor)
    assert client.get(reverse("admin:minerals_importbatch_upload")).status_code == 403
    assert _upload(client).status_code == 403
    assert not ImportBatch.objects.exists()
    changelist = client.get(reverse("admin:minerals_importbatch_changelist"))
    assert changelist.status_code == 200
    assert reverse("admin:minerals_importbatch_upload") not in changelist.content.decode()


def test_the_upload_permission_lets_a_staff_user_upload(
    client, django_user_model, upload_dirs, django_capture_on_commit_callbacks
):
    uploader = _staff(django_user_model, "uploader", "minerals.view_importbatch", "minerals.upload_data_file")
    client.force_login(uploader)
    assert (
        reverse("admin:minerals_importbatch_upload")
        in client.get(reverse("admin:minerals_importbatch_changelist")).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client)
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.started_by) == ("succeeded", uploader)


def test_the_import_task_refuses_a_batch_whose_uploader_lost_the_permission(django_user_model, tmp_path):
    """The task checks again: a queued batch of a user whose right was withdrawn (or forged) imports nothing."""
    from minerals.imports import import_batch_start
    from minerals.tasks import import_batch_task

    path = tmp_path / "MCS2025_World_Data_upload.csv"
    path.write_text(USGS_WORLD)
    before = ProductionRecord.objects.count()
    auditor = _staff(django_user_model, "auditor-task", "minerals.view_importbatch")
    for started_by in (auditor, None):
        batch = import_batch_start(importer="usgs_mcs", path=path, user=started_by)
        assert import_batch_task(batch.pk) == "failed"
        batch.refresh_from_db()
        assert batch.status == "failed"
        assert batch.finished_at is not None
        assert "minerals.upload_data_file" in batch.report["errors"][0]
    assert ProductionRecord.objects.count() == before
