"""Which SECRET_KEY values production refuses (DEBUG=false): missing, weak, or public.

A key that appears in the repository (the example env files, the docs, the dev default) is
public however long it is. Every such placeholder carries one of PUBLIC_KEY_MARKERS, and
tests/test_settings.py scans the repository so that a new placeholder without one fails CI.
"""

PUBLIC_KEY_MARKERS = ("change-me", "changeme", "replace-me", "insecure", "example", "not-a-real", "placeholder")


def secret_key_problem(key: str) -> str | None:
    """Why production must not start with this key, or None when it may."""
    if not key:
        return "SECRET_KEY must be set when DEBUG=false (at least 50 random characters)."
    if len(key) < 50 or len(set(key)) < 5:
        return "SECRET_KEY is too weak: use at least 50 random characters with 5 or more distinct ones."
    lowered = key.lower()
    if lowered.startswith("django-insecure") or any(marker in lowered for marker in PUBLIC_KEY_MARKERS):
        return (
            "SECRET_KEY is a placeholder published in the repository: generate your own, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return None
