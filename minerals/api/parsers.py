"""A bulk upload may also be sent as a raw CSV body (`Content-Type: text/csv`)."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import BaseParser


class CSVTextParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> str:
        # Decoded and split into rows by the bulk services (minerals.bulk_services.rows_from_csv).
        return stream.read().decode("utf-8-sig")
