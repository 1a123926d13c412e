"""Cursor pagination: a keyset on the primary key, so page N costs what page 1 costs.

Offsets grow with the table (2 million trade flows); a cursor on an indexed unique column does
not. The ordering is the primary key unless the view allows another unique column through
`?ordering=` (DRF's OrderingFilter, restricted per view to unique fields).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class KeysetCursorPagination(CursorPagination):
    ordering = "pk"
    page_size_query_param = "page_size"
    page_size_query_description = "Rows per page (at most the maximum page size)."

    def __init__(self) -> None:
        # Read per request (not at import), so settings overrides apply.
        self.page_size = settings.LODESTONE_API_PAGE_SIZE
        self.max_page_size = settings.LODESTONE_API_MAX_PAGE_SIZE

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        # CSV and XLSX bodies hold only the rows: the next page travels in the Link header (RFC 8288).
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.get_next_link()), ("prev", self.get_previous_link()))
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response
