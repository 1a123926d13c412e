"""Forms of the dashboard pages: GET controls (as-of date, filters) and the buyer's edits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from django import forms
from django.utils import timezone

from minerals.importers.numbers import MAX_AMOUNT
from minerals.models import KG_PER_UNIT, MeasureType, Stage, Unit

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


class AsOfForm(forms.Form):
    """The date whose policy status every number follows (a plain GET form, no JS needed)."""

    as_of = forms.DateField(
        label="As of",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Policy status on this date.",
    )

    def clean_as_of(self) -> date | None:
        value = self.cleaned_data.get("as_of")
        if value is not None and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(f"Pick a date between {EARLIEST} and {LATEST}.")
        return value


def as_of_from(data: Any) -> tuple[AsOfForm, date]:
    """The bound form and the date to use (today when empty or invalid)."""
    form = AsOfForm(data or None)
    today = timezone.localdate()
    if form.is_bound and form.is_valid() and form.cleaned_data.get("as_of"):
        return form, form.cleaned_data["as_of"]
    if not form.is_bound:
        form = AsOfForm(initial={"as_of": today})
    return form, today


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    """A ChoiceField declared on the form, by name (`form.fields` is typed as holding any Field)."""
    return cast(forms.ChoiceField, form.fields[name])


STATUS_CHOICES = [
    ("", "any status"),
    ("in_force", "in force"),
    ("needs_review", "in force again: needs review"),
    ("suspended", "suspended"),
    ("ended", "ended"),
    ("not_yet", "not yet effective"),
]


class PolicyFilterForm(AsOfForm):
    issuer = forms.ChoiceField(required=False)
    mineral = forms.ChoiceField(required=False)
    measure_type = forms.ChoiceField(label="Type", required=False, choices=[("", "any type"), *MeasureType.choices])
    target = forms.ChoiceField(required=False)
    status = forms.ChoiceField(label="Status on the date", required=False, choices=STATUS_CHOICES)

    def __init__(self, *args: Any, choices: dict[str, list[tuple[str, str]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "issuer").choices = [("", "any issuer"), *choices["issuer"]]
        _choice_field(self, "mineral").choices = [("", "any mineral"), *choices["mineral"]]
        _choice_field(self, "target").choices = [
            ("", "any target"),
            ("*", "all destinations (no target)"),
            *choices["target"],
        ]


def measure_matches(measure: dict[str, Any], filters: dict[str, Any]) -> bool:
    """True when a measure (page_selectors' dict) passes the tracker's filters."""
    if filters.get("issuer") and measure["issuer"] != filters["issuer"]:
        return False
    if filters.get("mineral") and filters["mineral"] not in {slug for slug, _ in measure["minerals"]}:
        return False
    if filters.get("measure_type") and measure["measure_type"] != filters["measure_type"]:
        return False
    target = filters.get("target")
    if target == "*" and measure["targets"]:
        return False
    if target and target != "*" and target not in measure["targets"]:
        return False
    return not (filters.get("status") and measure["status"] != filters["status"])


# A requirement changed by more than this factor (either way) is saved only once confirmed: 2500
# "t" typed where the mineral is held in kg is a 1,000x change, almost always a wrong unit.
CONFIRM_SCALE_ABOVE = 10.0


def scale_factor(before: tuple[float, str], after: tuple[float, str]) -> float | None:
    """How many times larger or smaller ``after`` (quantity, unit) is than ``before``, both
    converted to kg; None when either is 0 (a first quantity or a stop is not a rescale)."""
    old = before[0] * KG_PER_UNIT.get(before[1], 1.0)
    new = after[0] * KG_PER_UNIT.get(after[1], 1.0)
    if old <= 0 or new <= 0:
        return None
    return max(new / old, old / new)


class RequirementForm(forms.Form):
    mineral = forms.ChoiceField()
    # Finite (Django's FloatField refuses nan and inf), 0..MAX_AMOUNT as the database requires.
    annual_quantity = forms.FloatField(min_value=0, max_value=MAX_AMOUNT, label="Annual quantity")
    unit = forms.ChoiceField(choices=Unit.choices, initial=Unit.T)
    stage = forms.ChoiceField(
        choices=[("", "unchanged (refined for a new requirement)"), *Stage.choices],
        required=False,
        label="Stage bought",
        help_text="Alternatives come from this stage, or are shown with the processing they need.",
    )
    notes = forms.CharField(required=False, max_length=500)
    # Hidden until a change needs confirming (see clean); then a checkbox the buyer must tick.
    confirm_change = forms.BooleanField(required=False, widget=forms.HiddenInput, label="Confirm the change")

    def __init__(
        self,
        *args: Any,
        minerals: list[tuple[str, str]],
        current: Mapping[str, tuple[float, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``current``: the organization's requirements now, per mineral slug (quantity, unit)."""
        super().__init__(*args, **kwargs)
        _choice_field(self, "mineral").choices = minerals
        self.current = current or {}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data; only an override may return None
        slug, quantity, unit = data.get("mineral"), data.get("annual_quantity"), data.get("unit")
        before = self.current.get(slug or "")
        if before is None or quantity is None or not unit or data.get("confirm_change"):
            return data
        factor = scale_factor(before, (quantity, unit))
        if factor is not None and factor > CONFIRM_SCALE_ABOVE:
            direction = (
                "larger" if quantity * KG_PER_UNIT[unit] > before[0] * KG_PER_UNIT.get(before[1], 1.0) else "smaller"
            )
            field = self.fields["confirm_change"]
            field.widget = forms.CheckboxInput()
            field.label = f"Yes, change it {factor:,.0f}x"
            self.add_error(
                "confirm_change",
                f"This makes the requirement {factor:,.0f}x {direction}: {before[0]:,g} {before[1]} now, "
                f"{quantity:,g} {unit} entered. Check the unit; if the change is intended, tick "
                f"\u201cYes, change it {factor:,.0f}x\u201d and save again.",
            )
        return data


class SourcingForm(forms.Form):
    mineral = forms.ChoiceField()
    facility = forms.ChoiceField(required=False, help_text="Leave empty when the facility is not known.")
    country = forms.ChoiceField(required=False, help_text="Required without a facility.")
    annual_quantity = forms.FloatField(min_value=0, max_value=MAX_AMOUNT, required=False, label="Annual quantity")
    share = forms.FloatField(min_value=0, max_value=1, required=False, help_text="Of the requirement, 0 to 1.")
    notes = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, choices: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "mineral").choices = choices["minerals"]
        _choice_field(self, "facility").choices = [("", "not known"), *choices["facilities"]]
        _choice_field(self, "country").choices = [("", "the facility's country"), *choices["countries"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data; only an override may return None
        if not data.get("facility") and not data.get("country"):
            self.add_error("country", "Pick the source country when the facility is not known.")
        if data.get("annual_quantity") is None and data.get("share") is None:
            self.add_error("annual_quantity", "Give an annual quantity or a share of the requirement.")
        return data


class SupplierListUploadForm(forms.Form):
    file = forms.FileField(
        label="Supplier list (.csv or .xlsx)",
        help_text="Columns: mineral, facility, country, annual_quantity, share, notes. "
        "Replaces your sourcing of the minerals the file lists.",
    )
