"""A bulk upload may also be sent as a raw CSV body (`Content-Type: text/csv`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.parsers import BaseParser


class CSVTextParser(BaseParser):
    media_type = "text/csv"

    # DRF keeps whatever a parser returns as request.data; the stubs expect a mapping.
    def parse(  # type: ignore[override]
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> str:
        # Decoded and split into rows by the bulk services (minerals.bulk_services.rows_from_csv).
        return stream.read().decode("utf-8-sig")
