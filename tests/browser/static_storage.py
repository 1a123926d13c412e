"""The production static storage for the browser tests, compressing quicker."""

from __future__ import annotations

from typing import Any

import brotli
from whitenoise.compress import Compressor

from config.storage import HashedStaticFilesStorage


class _QuickBrotli(Compressor):
    """Brotli at quality 5 instead of 11: the same encodings and headers, files a few per cent
    larger (so the JavaScript budget test is, if anything, stricter), and a second or two of CPU
    instead of about 70 for the plotly.js bundles and the API docs' scripts."""

    @staticmethod
    def compress_brotli(data: bytes) -> bytes:
        return bytes(brotli.compress(data, quality=5))


class QuickCompressionStaticFilesStorage(HashedStaticFilesStorage):
    """The production storage (hashed names, gzip and brotli copies), compressing quicker."""

    def create_compressor(self, **kwargs: Any) -> Compressor:
        return _QuickBrotli(**kwargs)
