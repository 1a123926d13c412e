"""Forms of the transition plan page: a plan, a step, applying a plan. Choices come from the
buyer's own sourcing lines and the facilities of its minerals (no JSON, no free-text keys)."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboards.forms import _choice_field
from suppliers.models import PlanStep

PLAN_STEP_YEARS = list(range(2026, 2036))


class PlanForm(forms.Form):
    name = forms.CharField(max_length=200)
    notes = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class PlanStepForm(forms.Form):
    """Move part of one of the buyer's sourcing lines to an alternative from a year on."""

    source = forms.ChoiceField(label="From (your source)", help_text="One of your sourcing lines.")
    share_percent = forms.FloatField(label="Share of the requirement (%)", min_value=0, max_value=100, required=False)
    quantity = forms.FloatField(
        label="or a quantity per year", min_value=0, required=False, help_text="In the mineral's canonical unit."
    )
    target = forms.ChoiceField(label="To", choices=PlanStep.Target.choices)
    to_facility = forms.ChoiceField(
        label="Facility", required=False, help_text="Required for 'a facility'; optional for a lever."
    )
    to_country = forms.ChoiceField(label="Country", required=False, help_text="Required for 'a country'.")
    from_year = forms.TypedChoiceField(
        label="From year", coerce=int, choices=[(y, str(y)) for y in PLAN_STEP_YEARS], initial=2027
    )
    notes = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, choices: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "source").choices = choices["sources"]
        _choice_field(self, "to_facility").choices = [("", "none named"), *choices["facilities"]]
        _choice_field(self, "to_country").choices = [("", "(not a country)"), *choices["countries"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        if (data.get("share_percent") is None) == (data.get("quantity") is None):
            self.add_error("share_percent", "Give either a share of the requirement or a quantity.")
        if data.get("target") == PlanStep.Target.FACILITY and not data.get("to_facility"):
            self.add_error("to_facility", "Pick the facility to move to.")
        if data.get("target") == PlanStep.Target.COUNTRY and not data.get("to_country"):
            self.add_error("to_country", "Pick the country to move to.")
        return data


class PlanApplyForm(forms.Form):
    through_year = forms.TypedChoiceField(
        label="Apply the steps due by",
        coerce=int,
        choices=[(y, str(y)) for y in PLAN_STEP_YEARS],
        help_text="Changes your sourcing now: the moved volumes leave their source lines and join the targets'.",
    )
