"""The site header's links come from config.navigation (reversed once per URL configuration and
script prefix), and the production static storage works out each hashed URL once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse, set_script_prefix

from config import navigation
from config.storage import HashedStaticFilesStorage


def test_the_header_links_are_the_reversed_names_under_the_script_prefix() -> None:
    request = RequestFactory().get("/")
    links = navigation.header_links(request)["nav"]
    assert links == {key: reverse(name) for key, name in navigation.HEADER_LINKS.items()}
    assert links["inbox"] == "/inbox/"
    assert navigation.header_links(request)["nav"] is links  # kept
    set_script_prefix("/lodestone/")
    try:
        prefixed = navigation.header_links(request)["nav"]
        assert prefixed["overview"] == "/lodestone/"
        assert prefixed["login"] == "/lodestone" + links["login"]
    finally:
        set_script_prefix("/")


@pytest.mark.django_db
def test_a_page_s_header_links_to_every_section(client: Any) -> None:
    html = client.get("/policies/").content.decode()
    for key in ("overview", "policies", "compare", "portfolio", "plan", "scenarios"):
        assert f'href="{reverse(navigation.HEADER_LINKS[key])}"' in html
    assert f'href="{reverse("dashboards:policies")}" aria-current="page"' in html
    assert f'href="{reverse("login")}?next=/policies/"' in html


def test_the_hashed_static_url_is_worked_out_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"css/site.css": "css/site.0123abcd.css"}, "hash": "x"})
    )
    storage = HashedStaticFilesStorage(location=str(tmp_path), base_url="/static/")
    assert storage.url("css/site.css") == "/static/css/site.0123abcd.css"

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("the manifest was read again")

    monkeypatch.setattr(storage, "stored_name", refuse)
    assert storage.url("css/site.css") == "/static/css/site.0123abcd.css"
    with pytest.raises(AssertionError):
        storage.url("css/other.css")  # a name not asked before is looked up
