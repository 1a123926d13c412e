"""The REST API of reference data, and the API plumbing the other apps' APIs share.

Shared pieces live in the lowest app (imports point up): authentication, permissions by
OAuth2 scope, cursor pagination, CSV/XLSX renderers, throttles, error answers, schema.
"""
