"""Request body parsers of the API, each refusing a body over LODESTONE_API_MAX_BODY_BYTES first.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when `request.body` is read, and DRF parsers read
the stream instead, so without this a 120 MB CSV body was read and parsed whole (3.6 GB, issue 16
probing 4). Here the declared length is checked before anything is read, and at most the limit
plus one byte is ever read (a body without a length cannot slip past). The answer is 413.
A bulk upload may also be sent as a raw CSV body (`Content-Type: text/csv`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def _too_large(size: int | None) -> RequestTooLarge:
    limit = settings.LODESTONE_API_MAX_BODY_BYTES
    shown = f"{size:,} bytes" if size is not None else "over the limit"
    return RequestTooLarge(
        f"The request body is {shown}; at most {limit:,} bytes are accepted (split the rows into several requests)."
    )


def check_declared_length(parser_context: Mapping[str, Any] | None) -> None:
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {})
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.LODESTONE_API_MAX_BODY_BYTES:
        raise _too_large(length)


def read_bounded(stream: IO[Any], parser_context: Mapping[str, Any] | None) -> bytes:
    """The body, refused over the limit before it is read (declared length) or as it is read."""
    check_declared_length(parser_context)
    limit = settings.LODESTONE_API_MAX_BODY_BYTES
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(None)
    return data


class BoundedJSONParser(parsers.JSONParser):
    def parse(  # type: ignore[override]
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        body = read_bounded(stream, parser_context)
        return super().parse(io.BytesIO(body), media_type, parser_context)


class BoundedMultiPartParser(parsers.MultiPartParser):
    """Files stream to disk in Django's parser, but nothing bounded their total size."""

    def parse(  # type: ignore[override]
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        check_declared_length(parser_context)
        return super().parse(stream, media_type, parser_context)


class CSVTextParser(parsers.BaseParser):
    media_type = "text/csv"

    # DRF keeps whatever a parser returns as request.data; the stubs expect a mapping.
    def parse(  # type: ignore[override]
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> str:
        # Decoded and split into rows (counted as they are read) by the bulk services
        # (minerals.bulk_services.rows_from_csv).
        try:
            return read_bounded(stream, parser_context).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError("The CSV body is not UTF-8 text.") from None
