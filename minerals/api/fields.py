"""Serializer fields shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class SlugRelatedField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """DRF's, except that a NUL character is refused before the lookup: PostgreSQL text cannot
    hold one, so the query failed and a body such as {"mineral": "ga\\u0000llium"} was answered
    500 instead of 400 (found by tests/api/test_schema_fuzz.py). DRF's CharField refuses NUL
    the same way, with the same message."""

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)
