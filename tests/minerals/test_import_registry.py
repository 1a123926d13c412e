"""One registry of importers (minerals.imports.IMPORTERS): the commands, the admin upload form and
the batch runner (so the Celery task) all read it, so a format added there appears everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, get_commands, load_command_class

from minerals.admin import ImportUploadForm
from minerals.imports import IMPORTERS, ImportFailed, import_batch_start

pytestmark = pytest.mark.django_db


def test_every_importer_has_its_command_with_the_registry_help_and_extensions():
    commands = get_commands()
    assert {name for name in commands if name.startswith("import_")} == {f"import_{key}" for key in IMPORTERS}
    for key, importer in IMPORTERS.items():
        command = load_command_class(commands[f"import_{key}"], f"import_{key}")
        assert command.help == importer.description
        assert command.extensions == importer.extensions
        assert f"import_{key}" in command.create_parser("manage.py", f"import_{key}").format_usage()


def test_a_command_reads_only_the_registry_extensions_from_a_folder(tmp_path):
    for name in ("a.csv", "b.xlsx", "c.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    wgi = load_command_class("minerals", "import_wgi")
    comtrade = load_command_class("minerals", "import_comtrade")
    assert [p.name for p in wgi.files([str(tmp_path)])] == ["a.csv", "b.xlsx"]
    assert [p.name for p in comtrade.files([str(tmp_path)])] == ["a.csv"]
    (tmp_path / "a.csv").unlink()
    with pytest.raises(CommandError, match=r"no \.csv file in"):
        comtrade.files([str(tmp_path)])


def _form(importer: str, name: str) -> ImportUploadForm:
    return ImportUploadForm(data={"importer": importer}, files={"file": SimpleUploadedFile(name, b"a,b\n1,2\n")})


def test_the_upload_form_offers_the_registry_and_checks_its_extensions():
    assert [key for key, _ in ImportUploadForm().fields["importer"].choices] == list(IMPORTERS)
    assert _form("wgi", "wgi-2022.xlsx").is_valid()
    refused = _form("comtrade", "extract.xlsx")
    assert not refused.is_valid()
    assert refused.errors["__all__"] == ["A comtrade file ends in .csv."]
    assert _form("usgs_mcs", "MCS2025_World_Data.csv").is_valid()
    unknown = _form("unknown", "x.csv")
    assert not unknown.is_valid()
    assert "importer" in unknown.errors


def test_an_unknown_importer_names_the_registry(tmp_path):
    path = Path(tmp_path / "x.csv")
    path.write_text("a\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="one of usgs_mcs, comtrade, baci, wgi"):
        import_batch_start(importer="usgs", path=path)
