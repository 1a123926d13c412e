"""The site header's links (templates/base.html), reversed once per URL configuration and script
prefix instead of on every page: with the static URLs (config.storage), the header's eleven
`{% url %}` tags were 0.3-0.8 ms of a 3.6-3.9 ms portfolio request (docs/performance.md,
"Fourth round")."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

HEADER_LINKS = {
    "overview": "dashboards:overview",
    "policies": "dashboards:policies",
    "compare": "dashboards:compare",
    "portfolio": "dashboards:portfolio",
    "plan": "dashboards:plan",
    "scenarios": "scenarios:list",
    "inbox": "alerts:inbox",
    "curation": "admin:index",
    "password_change": "password_change",
    "logout": "logout",
    "login": "login",
}


@cache
def _reversed(urlconf: str, prefix: str) -> dict[str, str]:
    return {key: reverse(name, urlconf=urlconf) for key, name in HEADER_LINKS.items()}


def header_links(request: Any) -> dict[str, dict[str, str]]:
    """Template context processor: `nav.<key>` for each of HEADER_LINKS."""
    return {"nav": _reversed(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())}
