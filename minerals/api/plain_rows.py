"""List answers read as `values()` rows and formatted by the output serializer's own fields.

DRF's ModelSerializer builds a model instance per row (and one per selected relation), then
walks every field of every row (attribute lookup, SkipField and None checks): for a 100-row
trade-flow page that was most of the request's CPU (docs/performance.md "Uncached lists").
Here a list reads only the columns its serializer shows, as dictionaries, one query as before,
and formats each cell with that serializer field's `to_representation`: the same decimals,
dates, datetimes and choices; null stays null, never 0. Many-to-many fields (slugs or primary
keys) take one query per field for the page, in the related model's default order, as the
views' `prefetch_related` did.

The serializer stays the documented shape (drf-spectacular reads it), the answer of a single
object and of writes; tests/api/test_plain_rows.py checks that every list built here equals the
serializer's output. A serializer with a field this cannot read as a column (a nested
serializer, a method, `source="*"`) is refused when its rows are first built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, PrimaryKeyRelatedField, SlugRelatedField
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

_PK = "pk"  # the row's primary key in the values, for its many-to-many cells


@dataclass(frozen=True)
class Column:
    key: str  # the answer's key
    path: str  # the values() lookup
    represent: Callable[[Any], Any] | None  # the serializer field's formatting; None: as read
    as_read: type | None = None  # a value of exactly this type is its own representation


@dataclass(frozen=True)
class ManyColumn:
    key: str
    related: type[models.Model]  # the model of the related rows
    back: str  # from the related model to the row (a lookup)
    value: str  # the related row's value shown (slug or primary key)


class UnsupportedField(TypeError):
    pass


class PlainRows:
    """The columns of one output serializer, read as values and formatted per cell."""

    def __init__(self, serializer_class: type[serializers.ModelSerializer]) -> None:
        self.model: type[models.Model] = serializer_class.Meta.model
        self.columns: list[Column | ManyColumn] = [
            _column(self.model, name, field)
            for name, field in serializer_class().fields.items()
            if not field.write_only
        ]
        self.paths = [c.path for c in self.columns if isinstance(c, Column)]

    def values(self, queryset: QuerySet[Any], also: Iterable[str] = ()) -> QuerySet[Any]:
        """The queryset's rows as dictionaries of the columns (plus `also`, e.g. the cursor's
        ordering fields); selections and prefetches are the columns' joins now."""
        paths = dict.fromkeys([*self.paths, *also, _PK])
        return queryset.prefetch_related(None).values(*paths)

    def build(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        many = {c.key: _many_values(c, [row[_PK] for row in rows]) for c in self.columns if isinstance(c, ManyColumn)}
        out = []
        for row in rows:
            item: dict[str, Any] = {}
            for column in self.columns:
                if isinstance(column, ManyColumn):
                    item[column.key] = many[column.key].get(row[_PK], [])
                    continue
                value = row[column.path]
                if value is not None and column.represent is not None and type(value) is not column.as_read:
                    value = column.represent(value)
                item[column.key] = value
            out.append(item)
        return out


@cache
def plain_rows(serializer_class: type[serializers.ModelSerializer]) -> PlainRows:
    return PlainRows(serializer_class)


def _column(model: type[models.Model], name: str, field: serializers.Field) -> Column | ManyColumn:
    if field.source == "*" or isinstance(field, serializers.BaseSerializer | serializers.SerializerMethodField):
        raise UnsupportedField(f"{model.__name__}.{name}: not a column")
    attrs = list(field.source_attrs)
    if isinstance(field, ManyRelatedField):
        return _many_column(model, name, attrs, field.child_relation)
    if isinstance(field, SlugRelatedField):
        return Column(name, "__".join([*attrs, field.slug_field]), None)  # getattr(related, slug_field)
    if isinstance(field, PrimaryKeyRelatedField):
        if field.pk_field is not None:
            raise UnsupportedField(f"{model.__name__}.{name}: pk_field")
        return Column(name, "__".join([*attrs, "pk"]), None)
    if isinstance(field, serializers.RelatedField):
        raise UnsupportedField(f"{model.__name__}.{name}: {type(field).__name__}")
    return Column(name, "__".join(attrs), field.to_representation, _as_read(field))


def _as_read(field: serializers.Field) -> type | None:
    """The type whose values the field returns unchanged (str(s), int(i), float(f)): a cell read
    as that type skips the call (up to 800 calls on a 100-row trade-flow page). Exact field
    classes only: a subclass may format (a BigIntegerField may be asked for strings)."""
    if type(field) is serializers.BigIntegerField and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    ):
        return int
    return {serializers.CharField: str, serializers.IntegerField: int, serializers.FloatField: float}.get(type(field))


def _many_column(model: type[models.Model], name: str, attrs: list[str], child: Any) -> ManyColumn:
    if len(attrs) != 1:
        raise UnsupportedField(f"{model.__name__}.{name}: a many-to-many field of the row itself")
    relation = model._meta.get_field(attrs[0])
    if not relation.many_to_many:
        raise UnsupportedField(f"{model.__name__}.{name}: not many-to-many")
    # A forward ManyToManyField, or the reverse side of another model's (a ManyToManyRel).
    if isinstance(relation, models.ManyToManyField):
        back = str(relation.related_query_name())
    elif isinstance(relation, models.ManyToManyRel):
        back = relation.field.name
    else:
        raise UnsupportedField(f"{model.__name__}.{name}: {type(relation).__name__}")
    if isinstance(child, SlugRelatedField):
        value = child.slug_field
    elif isinstance(child, PrimaryKeyRelatedField) and child.pk_field is None:
        value = "pk"
    else:
        raise UnsupportedField(f"{model.__name__}.{name}: {type(child).__name__}")
    related = relation.related_model
    assert isinstance(related, type)
    return ManyColumn(name, related, back, value)


def _many_values(column: ManyColumn, pks: list[Any]) -> dict[Any, list[Any]]:
    """The related values per row, in the related model's default order (prefetch_related's)."""
    by_row: dict[Any, list[Any]] = defaultdict(list)
    if pks:
        related = column.related._default_manager.filter(**{f"{column.back}__in": pks})
        for row_pk, value in related.values_list(column.back, column.value):
            by_row[row_pk].append(value)
    return by_row


# A list view whose rows are built by PlainRows from its output serializer (on a GenericAPIView).
# No docstring: drf-spectacular would take a mixin's as the description of every view using it.
class PlainRowsListMixin:
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        rows = plain_rows(view.get_serializer_class())
        queryset = rows.values(view.filter_queryset(view.get_queryset()), _ordering_fields(view))
        page = view.paginate_queryset(queryset)
        if page is None:
            return Response(rows.build(list(queryset)))
        return view.get_paginated_response(rows.build(page))  # type: ignore[no-any-return]


def _ordering_fields(view: Any) -> list[str]:
    """The fields a cursor may be on: the row's dictionary carries them (pagination reads them)."""
    fields = getattr(view, "ordering_fields", None) or []
    ordering = getattr(view, "ordering", None) or []
    return [f.lstrip("-") for f in (*fields, *ordering) if f != "__all__"]
