"""Schemathesis against the live schema: every operation, as a curator and as a buyer.

Checks: no 5xx, and status codes, content types, headers and bodies conform to the schema.
Budget: FUZZ_EXAMPLES generated requests per operation (env LODESTONE_FUZZ_EXAMPLES, default
below). The default is what CI runs, chosen to keep the module around a minute; the malformed
inputs the probing found (NUL bytes, nested JSON, unsupported grants) have their own tests in
test_malformed_input.py. Raise it for a deeper run, e.g. `LODESTONE_FUZZ_EXAMPLES=100`.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.api.conftest import make_application, make_token

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
FUZZ_EXAMPLES = int(os.environ.get("LODESTONE_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Any:
    """The raw WSGI app closes "old" connections at each request's start and end (on PostgreSQL,
    with CONN_MAX_AGE and health checks, that is the test's connection and its transaction).
    Django's own test client unhooks this; do the same around the schemathesis calls."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_headers(demo: None, django_user_model: Any, wsgi_keeps_the_test_connection: None) -> dict[str, dict[str, str]]:
    from suppliers.models import Organization

    owner = django_user_model.objects.create_user("fuzz-curator", is_staff=True, is_superuser=True)
    curator_app = make_application(name="fuzz-curator", owner=owner)
    buyer_app = make_application(name="fuzz-buyer", organization=Organization.objects.get(name="Demo Buyer Inc."))
    return {
        "curator": {"Authorization": "Bearer " + make_token(curator_app, "reference:read reference:write")},
        "buyer": {"Authorization": "Bearer " + make_token(buyer_app, "portfolio:read portfolio:write")},
    }


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Any, fuzz_headers: dict[str, dict[str, str]]) -> None:
    for headers in fuzz_headers.values():  # each generated request as a curator, then as a buyer
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)
