"""Writes through the API go through the services, like the admin's and the importers'.

`ServiceModelViewSet`: input serializers validate, then the view hands the instance to the
services module's `record_save` / `record_delete` (full_clean, history with the acting user,
stale markers in the same transaction); the answer is rendered by the output serializer.
"""

from __future__ import annotations

import csv
from types import ModuleType
from typing import Any

from django.db import models, transaction
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from minerals import services
from minerals.api.permissions import acting_user
from minerals.bulk_services import rows_from_csv


class ServiceModelViewSet(viewsets.ModelViewSet):
    services_module: ModuleType = services
    input_serializer_class: type[serializers.Serializer]
    output_serializer_class: type[serializers.Serializer]
    many_to_many: tuple[str, ...] = ()
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.output_serializer_class

    def new_instance(self) -> models.Model:
        return self.get_queryset().model()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self._write(self.new_instance(), request, partial=False)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self._write(self.get_object(), request, partial=kwargs.get("partial", False))
        return Response(self.get_serializer(instance).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.services_module.record_delete(instance=self.get_object(), user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _write(self, instance: models.Model, request: Request, *, partial: bool) -> models.Model:
        existing = None if instance._state.adding else instance
        serializer = self.input_serializer_class(
            existing, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        related = {name: values.pop(name) for name in self.many_to_many if name in values}
        for name, value in values.items():
            setattr(instance, name, value)
        with transaction.atomic():
            self.services_module.record_save(instance=instance, user=acting_user(request))
            changed = [services.relation_set(instance=instance, field=n, values=v) for n, v in related.items()]
            if any(changed):
                self.services_module.record_related_saved(instance=instance)
        # Read back through the view's queryset: the output has its related rows selected.
        return self.get_queryset().get(pk=instance.pk)


def bulk_rows(request: Request) -> list[Any]:
    """The rows of a bulk request: a JSON array, a `text/csv` body, or a multipart `file` (CSV)."""
    data = request.data  # parsers refuse a body over LODESTONE_API_MAX_BODY_BYTES (413) first
    if isinstance(data, list):
        return data
    try:
        if isinstance(data, str):
            return rows_from_csv(data)
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is not None:
            try:
                return rows_from_csv(upload.read().decode("utf-8-sig"))
            except UnicodeDecodeError:
                raise ParseError("The CSV file is not UTF-8 text.") from None
    except csv.Error as exc:  # e.g. a cell over the 1 MB field limit
        raise ParseError(f"The CSV is not valid: {exc}.") from None
    raise ParseError("Send a JSON array of rows, a text/csv body, or a multipart upload with a CSV `file`.")
