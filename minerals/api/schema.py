"""OpenAPI: every operation documents its error answers (400, 401, 403, 404, 415, 429)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

ErrorDetail = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})

ERROR_RESPONSES: dict[str, OpenApiResponse] = {
    "400": OpenApiResponse(
        OpenApiTypes.OBJECT, description="Invalid input: field names with their messages, or per-row errors."
    ),
    "401": OpenApiResponse(ErrorDetail, description="No valid session or bearer token."),
    "403": OpenApiResponse(ErrorDetail, description="Signed in, but the scope, role or permission is missing."),
    "404": OpenApiResponse(ErrorDetail, description="No such object for this caller (other organizations' too)."),
    "415": OpenApiResponse(ErrorDetail, description="A request body of a media type this operation does not take."),
    "429": OpenApiResponse(ErrorDetail, description="Rate limit of the scope reached; see Retry-After."),
}


class LodestoneAutoSchema(AutoSchema):
    def get_request_serializer(self) -> Any:
        # ServiceModelViewSet: writes take the input serializer, answers use the output one.
        view_input = getattr(self.view, "input_serializer_class", None)
        if view_input is not None and getattr(self.view, "action", None) in ("create", "update", "partial_update"):
            return view_input
        return super().get_request_serializer()

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, response in ERROR_RESPONSES.items():
            if code == "415" and self.method not in ("POST", "PUT", "PATCH"):
                continue
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, ["application/json"], direction)
        return responses


class ClientCredentialsScheme(OpenApiAuthenticationExtension):
    """OAuth2 client credentials in the schema, with the scope each operation needs."""

    target_class = "minerals.api.authentication.ClientCredentialsAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "/api/v1/oauth/token/", "scopes": settings.OAUTH2_PROVIDER["SCOPES"]}
            },
        }

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        safe = auto_schema.method in SAFE_METHODS
        for permission in auto_schema.view.get_permissions():
            scopes = getattr(permission, "scopes", None)
            if scopes:
                return {self.name: [scopes[0] if safe else scopes[1]]}
        return {self.name: []}
