from __future__ import annotations

from typing import Any

from django import forms

from minerals.models import Country, MeasureType, Mineral


class WatchForm(forms.Form):
    mineral = forms.ModelChoiceField(queryset=Mineral.objects.order_by("name"), required=False, to_field_name="slug")
    country = forms.ModelChoiceField(queryset=Country.objects.order_by("name"), required=False, label="Issuing country")
    measure_type = forms.ChoiceField(choices=[("", "---------"), *MeasureType.choices], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if sum(bool(data.get(f)) for f in ("mineral", "country", "measure_type")) != 1:
            raise forms.ValidationError("Choose exactly one: a mineral, an issuing country or a measure type.")
        return data
