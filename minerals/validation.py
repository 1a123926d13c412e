"""Model validation that asks the database fewer questions.

Django validates each CheckConstraint with a query of its own, inside a savepoint when a
transaction is open (`Q.check`): three statements a constraint. A production figure has eight
check constraints, so an edit through `record_save` spent 24 of its 40 statements on them.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, router, transaction
from django.db.models import BooleanField, CheckConstraint, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE


class CheckConstraintsInOneQuery:
    """Every check constraint of the model in one query: when they all hold (an ordinary save),
    one statement (in one savepoint) instead of one a constraint, and the other constraints as
    Django validates them. When any fails, or cannot be asked in one query (a condition names an
    excluded field, a database error), Django's own validation runs every constraint, so the
    errors raised are exactly Django's."""

    def validate_constraints(self, exclude: Any = None) -> None:
        model: Any = type(self)
        checks = [c for c in model._meta.constraints if isinstance(c, CheckConstraint)]  # type: ignore[attr-defined]
        using = router.db_for_write(model, instance=self)
        if len(checks) < 2 or not self._check_constraints_hold(checks, exclude, using):
            super().validate_constraints(exclude=exclude)  # type: ignore[misc]
            return
        errors: dict[str, Any] = {}
        for model_class, constraints in self.get_constraints():  # type: ignore[attr-defined]
            for constraint in constraints:
                if model_class is model and isinstance(constraint, CheckConstraint):
                    continue  # held, above
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as e:  # as Model.validate_constraints gathers them
                    if getattr(e, "code", None) == "unique" and len(constraint.fields) == 1:
                        errors.setdefault(constraint.fields[0], []).append(e)
                    else:
                        errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def _check_constraints_hold(self, checks: list[CheckConstraint], exclude: Any, using: str) -> bool:
        """True when the database finds every condition true (or NULL, as a CHECK does), the same
        question Q.check asks for each, asked once."""
        model: Any = type(self)
        connection = connections[using]
        if not connection.features.supports_comparing_boolean_expr:
            return False
        query = Query(None)
        against = self._get_field_expression_map(meta=model._meta, exclude=exclude)  # type: ignore[attr-defined]
        for name, value in against.items():
            query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
        query.add_annotation(Value(1), "_check")
        try:
            for constraint in checks:
                query.add_q(Q(Coalesce(Q(constraint.condition), True, output_field=BooleanField())))
        except FieldError:
            return False  # a condition names an excluded field: Django's path skips that constraint
        compiler = query.get_compiler(using=using)
        try:
            with transaction.atomic(using=using) if connection.in_atomic_block else nullcontext():
                return compiler.execute_sql(SINGLE) is not None
        except DatabaseError:
            return False
