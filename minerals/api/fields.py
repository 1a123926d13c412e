"""Serializer fields shared by every app's API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rest_framework import serializers

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class RefusesNul:
    """A related field that refuses a NUL character before its lookup: PostgreSQL text cannot hold
    one, so the query failed and a body such as {"mineral": "ga\\u0000llium"} was answered 500
    instead of 400 (found by tests/api/test_schema_fuzz.py). DRF's CharField refuses NUL the same
    way, with the same message."""

    default_error_messages: ClassVar[dict[str, StrOrPromise]] = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class SlugRelatedField(RefusesNul, serializers.SlugRelatedField):  # type: ignore[type-arg]
    """DRF's, refusing NUL (RefusesNul)."""


class PrimaryKeyRelatedField(RefusesNul, serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """DRF's, refusing NUL (RefusesNul): a text primary key (a country's ISO3) is looked up too."""
