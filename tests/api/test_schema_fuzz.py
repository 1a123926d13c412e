"""Schemathesis against the live schema: every operation, as a curator and as a buyer.

Checks: no 5xx, and status codes, content types, headers and bodies conform to the schema; a token
whose scopes the operation does not admit never succeeds.
Budget: FUZZ_EXAMPLES generated requests per operation (env LODESTONE_FUZZ_EXAMPLES, default
below) in each generation mode (positive and negative), plus schemathesis's explicit and
boundary cases: 7,372 cases over the 49 operations at 3. Each is sent with every token the
operation's scopes admit; a token they do not admit gets the operation's first 3 cases only
(REFUSED_CASES below). Counted on PostgreSQL on 2026-12-06: 7,718 requests in 111 s alone (one
process, load average about 1), against 14,744 requests (every case with both tokens) in 177 s;
docs/performance.md, "Where the schema fuzz's time goes". Raise the budget for a deeper run,
e.g. `LODESTONE_FUZZ_EXAMPLES=100`.

Random generation alone is not enough for the two kinds of 5xx the probing found (issue 16,
probing 9: a NUL byte in a path lookup and in a query filter; PostgreSQL text cannot hold one):
of the 6,401 requests an earlier count found, 8 had a NUL byte in a query parameter and none in
a path parameter. So `test_a_nul_byte_in_any_parameter_is_no_server_error` sends one to every
path and string query parameter of every operation the schema declares (new operations
included), through the same checks. The other malformed inputs (nested JSON, a 1 MB CSV cell, unsupported grants, a
non-numeric delete id on the pages) have their own tests in test_malformed_input.py and
tests/test_security.py.
"""

from __future__ import annotations

import os
from collections import Counter
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

pytestmark = pytest.mark.slow  # minutes of requests in all: scheduled first (tests/conftest.py)

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
FUZZ_EXAMPLES = int(os.environ.get("LODESTONE_FUZZ_EXAMPLES", "3"))
TOKEN_SCOPES = {"curator": {"reference:read", "reference:write"}, "buyer": {"portfolio:read", "portfolio:write"}}


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
    # The in-process (WSGI) transport hands the body over as sent, without decoding a content
    # coding, and schemathesis asks for gzip by default: the stored answers would then be checked
    # as gzip bytes. Their compression has its own tests (tests/api/test_metrics_api.py).
    plain = {"Accept-Encoding": "identity"}
    return {
        "curator": {
            **plain,
            "Authorization": "Bearer " + make_token(curator_app, " ".join(sorted(TOKEN_SCOPES["curator"]))),
        },
        "buyer": {**plain, "Authorization": "Bearer " + make_token(buyer_app, " ".join(sorted(TOKEN_SCOPES["buyer"])))},
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
    for identity, headers in fuzz_headers.items():  # each generated request as a curator, then as a buyer
        admitted = scopes_admit(case.operation.definition.raw, TOKEN_SCOPES[identity])
        if not admitted:
            key = (case.operation.label, identity)
            if REFUSED_SENT[key] == REFUSED_CASES:
                continue
            REFUSED_SENT[key] += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)
        assert admitted or not 200 <= response.status_code < 300, (identity, case.operation.label)


def scopes_admit(operation: dict[str, Any], scopes: set[str]) -> bool:
    """Whether a token with `scopes` meets one of the operation's OAuth2 requirements (schema; a
    scope listed as "portfolio:read or reference:read" is met by either)."""
    required = [r["oauth2"] for r in operation.get("security", []) if "oauth2" in r]
    return not required or any(
        all(set(needed.split(" or ")) & scopes for needed in requirement) for requirement in required
    )


# An operation's scopes, as the schema declares them, admit the curator's token or the buyer's.
# The other token is refused before anything of its request is read (DRF checks permissions before
# it parses a body or looks an object up), so its first cases of each operation are sent (and must
# conform and never succeed) and its later ones are not: they were thousands of the same refusal
# (7,372 cases gave 14,744 requests, every one sent with both tokens).
REFUSED_CASES = 3
REFUSED_SENT: Counter[tuple[str, str]] = Counter()


NUL_TEXT = "ga\x00llium"


def _nul_cases() -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(operation label, path parameters, query) with a NUL byte in each parameter a client types."""
    cases = []
    for result in schema.get_all_operations():
        operation = result.ok()
        path = {p.name: NUL_TEXT for p in operation.path_parameters}
        strings = [p.name for p in operation.query if p.definition.get("schema", {}).get("type") == "string"]
        query = {name: NUL_TEXT for name in strings if name != "format"}  # format=<junk> is a 404 by design
        if path or query:
            cases.append((operation.label, path, query))
    return cases


NUL_CASES = _nul_cases()


def test_every_operation_with_parameters_is_covered() -> None:
    assert len(NUL_CASES) >= 40
    assert sum(1 for _, path, _ in NUL_CASES if path) >= 20


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "path", "query"), NUL_CASES, ids=[label for label, _, _ in NUL_CASES])
def test_a_nul_byte_in_any_parameter_is_no_server_error(
    label: str, path: dict[str, str], query: dict[str, str], fuzz_headers: dict[str, dict[str, str]]
) -> None:
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
    for headers in fuzz_headers.values():
        for parameters in ({"path_parameters": path}, {"path_parameters": path, "query": query}):
            case = operation.Case(**parameters)
            response = case.call(headers=headers)
            assert response.status_code < 500, (label, parameters, response.status_code)
