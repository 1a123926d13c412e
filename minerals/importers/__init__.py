"""Pure parsers for the public data files Lodestone imports (no Django, no database).

One module per publisher format; each exposes a streaming ``parse_*`` generator that yields frozen
records or :class:`~minerals.importers.errors.ParseError` values, so a caller can stream files of
any size and report every problem with its file, line and column.
"""
