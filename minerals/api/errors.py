"""Error answers: services raise Django's ValidationError; the API answers 400 with the fields."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if request is not None:
        # Errors are JSON even on `?format=csv|xlsx`: a spreadsheet of one "detail" cell helps nobody.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    if isinstance(exc, ParseError) and getattr(context.get("view"), "action", None) == "bulk":
        # A bulk body that does not parse, wherever it is first read (the token authentication
        # reads the body too): the same answer shape as invalid rows.
        return Response({"detail": str(exc.detail), "rows": 0, "errors": []}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        # full_clean() in a service: the same shape as a serializer's errors.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response(
            {"detail": "Other records still refer to this one; remove or reassign them first."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RecursionError) and "JSON" in str(exc):
        # The JSON parser recursed through a body of deeply nested arrays or objects.
        return Response({"detail": "The JSON body is nested too deeply."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        # A concurrent write won the race for a unique key that full_clean() had found free.
        return Response({"detail": "Conflicts with a stored record."}, status=status.HTTP_409_CONFLICT)
    return exception_handler(exc, context)
