"""Static files as production serves them: hashed names, gzip and brotli copies, immutable."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's storage, with the hashed URL under DEBUG as well, compressing only what changed.

    Django's manifest storage hands out the plain name when DEBUG is on; `make run` (DEBUG) serves
    the collected files the way production does, so its pages ask for the hashed names too, which
    whitenoise marks cacheable for good. whitenoise compresses every collected file on every
    collectstatic (brotli at its best level: about a minute of CPU for the plotly.js bundles and
    the API docs' scripts); a file whose compressed copies are newer than itself is skipped, so
    `make run` pays that once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        # A name's hashed URL is fixed by the manifest this process loaded, so it is worked out
        # once, not for each of a page's {% static %} tags (a manifest lookup, quoting, a join).
        if name is None:
            return super().url(name, force=True)
        url = self._urls.get(name)
        if url is None:
            url = self._urls[name] = super().url(name, force=True)
        return url

    def compress_files(self, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
        hashed = set(self.hashed_files.values())
        stale = [path for path in paths if not self._compressed_copies_current(path, named_by_content=path in hashed)]
        yield from super().compress_files(stale)

    def _compressed_copies_current(self, path: str, *, named_by_content: bool) -> bool:
        """A hashed name is its content's: copies that exist are of that content (Django rewrites
        the hashed CSS and JS files on every run, so their dates say nothing). A plain name is
        copied again only when its source changed: copies newer than it are current."""
        source = self.path(path)
        copies = [source + ".gz", source + ".br"]
        if not all(os.path.exists(copy) for copy in copies):
            return False
        return named_by_content or all(os.stat(copy).st_mtime >= os.stat(source).st_mtime for copy in copies)
