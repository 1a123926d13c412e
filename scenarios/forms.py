"""The scenario form and its three shock formsets (typed fields, no JSON)."""

from __future__ import annotations

from typing import Any

from django import forms

from minerals.models import Country, MeasureType, Mineral, PolicyMeasure
from scenarios import services
from scenarios.models import PolicyShock, SupplyShock
from suppliers.models import Facility

DATE = forms.DateInput(attrs={"type": "date"})


class ScenarioForm(forms.Form):
    name = forms.CharField(max_length=200)
    assumptions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    as_of = forms.DateField(widget=DATE, help_text="Production and import tables: the newest up to this year.")
    window_start = forms.DateField(widget=DATE)
    window_end = forms.DateField(widget=DATE)
    licence_approval_rate = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="Share of licensed exports that still flow, 0 to 1 (empty: the severity table's 0.8).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and end < start:
            self.add_error("window_end", "The window ends before it starts.")
        return data


class PolicyShockForm(forms.Form):
    # A blank first choice: an untouched extra row is "unchanged", so the formset skips it.
    kind = forms.ChoiceField(choices=[("", "---------"), *PolicyShock.Kind.choices])
    measure = forms.ModelChoiceField(
        PolicyMeasure.objects.order_by("key"), required=False, to_field_name="key", empty_label="every measure"
    )
    issuer = forms.ModelChoiceField(Country.objects.order_by("name"), required=False, empty_label="any issuer")
    on = forms.DateField(widget=DATE, required=False)
    until = forms.DateField(widget=DATE, required=False)
    measure_type = forms.ChoiceField(choices=[("", "unchanged"), *MeasureType.choices], required=False)
    minerals = forms.ModelMultipleChoiceField(Mineral.objects.order_by("name"), required=False, to_field_name="slug")
    targets = forms.ModelMultipleChoiceField(Country.objects.order_by("name"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == "new" and not (data.get("issuer") and data.get("measure_type")):
            raise forms.ValidationError("A new measure needs an issuer and a type.")
        if data.get("kind") == "extend" and not data.get("until"):
            self.add_error("until", "An extension needs the date the suspension runs until.")
        return data


class SupplyShockForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "---------"), *SupplyShock.Kind.choices])
    mineral = forms.ModelChoiceField(
        Mineral.objects.order_by("name"), required=False, to_field_name="slug", empty_label="every mineral"
    )
    country = forms.ModelChoiceField(
        Country.objects.order_by("name"), required=False, empty_label="the largest producer outside China"
    )
    cut_percent = forms.FloatField(required=False, min_value=0.0, max_value=100.0, help_text="100 = removed.")
    facility = forms.ModelChoiceField(Facility.objects.order_by("name"), required=False, to_field_name="key")
    delay_years = forms.IntegerField(required=False, min_value=1, max_value=50)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind in ("facility_offline", "facility_delay") and not data.get("facility"):
            self.add_error("facility", "Choose the facility.")
        if kind == "facility_delay" and not data.get("delay_years"):
            self.add_error("delay_years", "How many years later?")
        if kind == "country_output" and data.get("cut_percent") is None:
            self.add_error("cut_percent", "By how much (100 = removed)?")
        return data


class DemandShockForm(forms.Form):
    mineral = forms.ModelChoiceField(Mineral.objects.order_by("name"), to_field_name="slug")
    change_percent = forms.FloatField(min_value=-100.0, max_value=1000.0, help_text="+20 = 20 % more.")


PolicyShockFormSet = forms.formset_factory(PolicyShockForm, extra=1, can_delete=True)
SupplyShockFormSet = forms.formset_factory(SupplyShockForm, extra=1, can_delete=True)
DemandShockFormSet = forms.formset_factory(DemandShockForm, extra=1, can_delete=True)


def _kept(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    return [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]


def scenario_data(form: ScenarioForm, policy: Any, supply: Any, demand: Any) -> services.ScenarioData:
    """The valid forms as the service's input."""
    return services.scenario_data(form.cleaned_data, _kept(policy), _kept(supply), _kept(demand))


def initial_of(
    scenario: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A saved scenario as the forms' initial data (editing)."""
    head = {
        name: getattr(scenario, name)
        for name in ("name", "assumptions", "as_of", "window_start", "window_end", "licence_approval_rate")
    }
    policy = [
        {
            "kind": row.kind,
            "measure": row.measure,
            "issuer": row.issuer,
            "on": row.on,
            "until": row.until,
            "measure_type": row.measure_type,
            "minerals": list(row.minerals.all()),
            "targets": list(row.targets.all()),
        }
        for row in scenario.policy_shocks.all()
    ]
    supply = [
        {
            "kind": row.kind,
            "mineral": row.mineral,
            "country": row.country,
            "cut_percent": row.cut_percent,
            "facility": row.facility,
            "delay_years": row.delay_years,
        }
        for row in scenario.supply_shocks.all()
    ]
    demand = [{"mineral": row.mineral, "change_percent": row.change_percent} for row in scenario.demand_shocks.all()]
    return head, policy, supply, demand
