from __future__ import annotations

from typing import Any

from django import forms

from alerts.models import EmailMode, ThresholdMetric
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


class ThresholdForm(forms.Form):
    metric = forms.ChoiceField(choices=ThresholdMetric.choices)
    level = forms.FloatField(
        min_value=0, help_text="Shares as percentages (50 = 50 %); supply risk as is (1.0 = the EU threshold)."
    )
    mineral = forms.ModelChoiceField(
        queryset=Mineral.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label="Every watched mineral",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("metric") in (ThresholdMetric.CHINA_SHARE, ThresholdMetric.RESTRICTED_SHARE)
            and data.get("level") is not None
        ):
            if data["level"] > 100:
                raise forms.ValidationError("A share is at most 100 %.")
            data["level"] = data["level"] / 100  # stored as a fraction
        return data


class EmailForm(forms.Form):
    email = forms.ChoiceField(choices=EmailMode.choices, label="E-mail")


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=500, label="HTTPS URL", assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
