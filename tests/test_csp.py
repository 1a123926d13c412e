"""config.csp.CSPMiddleware: django-csp's headers, with the settings' policy text built once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from csp.constants import NONCE, SELF
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.test import RequestFactory, override_settings

from config import csp
from config.csp import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")
REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"}}


def answer(middleware_class: type, path: str, view: Callable[[HttpRequest], HttpResponse]) -> dict[str, Any]:
    request = RequestFactory().get(path)
    response = middleware_class(view)(request)
    return {"headers": {h: response.get(h) for h in HEADERS}, "request": request}


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def own_policy(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok")
    response._csp_update = {"img-src": ["https://tiles.example.org"]}  # type: ignore[attr-defined]
    return response


def exempt(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok")
    response._csp_exempt = True  # type: ignore[attr-defined]
    return response


def not_found(request: HttpRequest) -> HttpResponse:
    return HttpResponseNotFound("no")


@pytest.mark.parametrize("view", [plain, own_policy, exempt, not_found])
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"CONTENT_SECURITY_POLICY_REPORT_ONLY": REPORT_ONLY},
        {"CONTENT_SECURITY_POLICY": None, "CONTENT_SECURITY_POLICY_REPORT_ONLY": REPORT_ONLY},
        {"DEBUG": True},
    ],
    ids=["settings", "report-only too", "report-only alone", "debug"],
)
def test_the_headers_are_django_csps(view: Callable[[HttpRequest], HttpResponse], overrides: dict[str, Any]):
    with override_settings(**overrides):
        assert (
            answer(CSPMiddleware, "/api/v1/minerals/", view)["headers"]
            == (answer(DjangoCSPMiddleware, "/api/v1/minerals/", view)["headers"])
        )


def test_an_excluded_prefix_gets_no_header_as_with_django_csp():
    from django.conf import settings

    policy = {**settings.CONTENT_SECURITY_POLICY, "EXCLUDE_URL_PREFIXES": ["/api/"]}
    with override_settings(CONTENT_SECURITY_POLICY=policy):
        ours = answer(CSPMiddleware, "/api/v1/minerals/", plain)["headers"]
        assert ours == answer(DjangoCSPMiddleware, "/api/v1/minerals/", plain)["headers"]
        assert ours["Content-Security-Policy"] is None
        assert answer(CSPMiddleware, "/minerals/", plain)["headers"]["Content-Security-Policy"]


def test_a_nonce_asked_by_the_view_is_in_the_header_and_a_late_one_raises():
    def asks_a_nonce(request: HttpRequest) -> HttpResponse:
        return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')  # type: ignore[attr-defined]

    from django.conf import settings

    directives = {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "script-src": [SELF, NONCE]}
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": directives}):
        asked = answer(CSPMiddleware, "/minerals/", asks_a_nonce)
    nonce = asked["request"]._csp_nonce
    assert f"'nonce-{nonce}'" in asked["headers"]["Content-Security-Policy"]
    late = answer(CSPMiddleware, "/minerals/", plain)["request"]
    with pytest.raises(CSPNonceError):
        str(late.csp_nonce)


def test_the_policy_text_is_built_once_per_settings(monkeypatch: pytest.MonkeyPatch):
    built: list[bool] = []
    original = csp.build_policy

    def counting(**kwargs: Any) -> str:
        built.append(kwargs.get("report_only", False))
        return original(**kwargs)

    monkeypatch.setattr(csp, "_kept", None)
    monkeypatch.setattr(csp, "build_policy", counting)
    for _ in range(3):
        answer(CSPMiddleware, "/minerals/", plain)
    assert built == [False, True]
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=REPORT_ONLY):
        assert answer(CSPMiddleware, "/minerals/", plain)["headers"]["Content-Security-Policy-Report-Only"]
    assert built == [False, True, False, True]
