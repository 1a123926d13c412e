"""The inbox: a signed-in user's own notifications, and marking them read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponseBadRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from alerts import email, fanout, selectors, services, webhooks
from alerts.forms import EmailForm, ThresholdForm, WatchForm, WebhookForm
from alerts.models import ThresholdMetric


def _user_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert user_id is not None  # every view here is login_required
    return int(user_id)


@login_required
def inbox(request: HttpRequest) -> HttpResponseBase:
    notifications = list(selectors.inbox(_user_id(request)))
    return render(request, "alerts/inbox.html", {"notifications": notifications})


@login_required
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponseBase:
    # Another user's notification is indistinguishable from a missing one.
    if not selectors.owns_notification(_user_id(request), notification_id):
        raise Http404("No such notification.")
    fanout.mark_read(user_id=_user_id(request), notification_ids=[notification_id])
    return redirect("alerts:inbox")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponseBase:
    fanout.mark_read(user_id=_user_id(request))
    return redirect("alerts:inbox")


@login_required
def watching(request: HttpRequest) -> HttpResponseBase:
    """What the user watches beyond their portfolio minerals: add (POST) and list."""
    user_id = _user_id(request)
    form = WatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.watch_add(user_id=user_id, **{k: v for k, v in form.cleaned_data.items() if v})
        return redirect("alerts:watching")
    organization = selectors.member_organizations(user_id).first()
    context = {
        "form": form,
        "watches": list(selectors.watches(user_id)),
        "portfolio_minerals": list(selectors.portfolio_minerals(user_id)),
        "organization": organization,
        "thresholds": list(selectors.thresholds(organization_id=organization.pk, user_id=user_id))
        if organization
        else [],
        "threshold_form": ThresholdForm(),
        "email_form": EmailForm(initial={"email": selectors.email_mode(user_id=user_id)}),
        "administered": list(selectors.administered_organizations(user_id)),
        "shares": SHARES,
    }
    return render(request, "alerts/watching.html", context, status=400 if form.errors else 200)


SHARES = (ThresholdMetric.CHINA_SHARE, ThresholdMetric.RESTRICTED_SHARE)


@login_required
@require_POST
def unwatch(request: HttpRequest, watch_id: int) -> HttpResponseBase:
    if not services.watch_remove(user_id=_user_id(request), watch_id=watch_id):
        raise Http404("No such watch.")
    return redirect("alerts:watching")


@login_required
@require_POST
def threshold_add(request: HttpRequest) -> HttpResponseBase:
    """The user's own threshold, in their (first) organization: it replaces the organization's default."""
    user_id = _user_id(request)
    organization = selectors.member_organizations(user_id).first()
    form = ThresholdForm(request.POST)
    if organization is None or not form.is_valid():
        return HttpResponseBadRequest("Choose a metric and a level (you need an organization).")
    services.threshold_set(organization_id=organization.pk, user_id=user_id, **form.cleaned_data)
    return redirect("alerts:watching")


@login_required
@require_POST
def threshold_remove(request: HttpRequest, threshold_id: int) -> HttpResponseBase:
    user_id = _user_id(request)
    organization = selectors.member_organizations(user_id).first()
    if organization is None or not services.threshold_remove(
        threshold_id=threshold_id, organization_id=organization.pk, user_id=user_id
    ):
        raise Http404("No such threshold.")
    return redirect("alerts:watching")


@login_required
@require_POST
def email_set(request: HttpRequest) -> HttpResponseBase:
    form = EmailForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown e-mail mode.")
    email.preference_set(user_id=_user_id(request), email=form.cleaned_data["email"])
    return redirect("alerts:watching")


# -- an organization's admin: defaults and webhooks (anyone else: 404)


@login_required
def organization_settings(request: HttpRequest, slug: str) -> HttpResponseBase:
    organization = selectors.administered_organization(user_id=_user_id(request), slug=slug)
    action = request.POST.get("action") if request.method == "POST" else None
    forms = {
        "watch": WatchForm(request.POST if action == "watch" else None),
        "threshold": ThresholdForm(request.POST if action == "threshold" else None),
        "email": EmailForm(
            request.POST if action == "email" else None,
            initial={"email": selectors.email_mode(organization_id=organization.pk)},
        ),
        "webhook": WebhookForm(request.POST if action == "webhook" else None),
    }
    if action in forms and forms[action].is_valid():
        data = forms[action].cleaned_data
        try:
            if action == "watch":
                services.watch_add(organization_id=organization.pk, **{k: v for k, v in data.items() if v})
            elif action == "threshold":
                services.threshold_set(organization_id=organization.pk, user_id=None, **data)
            elif action == "email":
                email.preference_set(organization_id=organization.pk, email=data["email"])
            else:
                webhooks.endpoint_create(organization_id=organization.pk, **data)
            return redirect("alerts:organization", slug=slug)
        except ValidationError as error:
            forms[action].add_error(None, error)
    context = {
        "organization": organization,
        "forms": forms,
        "watches": list(selectors.organization_watches(organization.pk)),
        "thresholds": list(selectors.thresholds(organization_id=organization.pk, user_id=None)),
        "endpoints": list(selectors.endpoints(organization.pk)),
        "shares": SHARES,
    }
    status = 400 if action and any(f.errors for f in forms.values()) else 200
    return render(request, "alerts/organization.html", context, status=status)


@login_required
@require_POST
def organization_remove(request: HttpRequest, slug: str, kind: str, object_id: int) -> HttpResponseBase:
    organization = selectors.administered_organization(user_id=_user_id(request), slug=slug)
    if kind == "watch":
        removed = services.watch_remove(watch_id=object_id, organization_id=organization.pk)
    elif kind != "threshold":
        raise Http404("Not found.")
    else:
        removed = services.threshold_remove(threshold_id=object_id, organization_id=organization.pk, user_id=None)
    if not removed:
        raise Http404("Not found.")
    return redirect("alerts:organization", slug=slug)


@login_required
def webhook_detail(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponseBase:
    """An endpoint: its secret, the delivery log (status codes) and the deliveries to redeliver."""
    organization = selectors.administered_organization(user_id=_user_id(request), slug=slug)
    endpoint = selectors.endpoint(organization_id=organization.pk, endpoint_id=endpoint_id)
    context = {
        "organization": organization,
        "endpoint": endpoint,
        "attempts": list(selectors.delivery_log(endpoint.pk)),
        "deliveries": list(selectors.deliveries(endpoint.pk)),
    }
    return render(request, "alerts/webhook.html", context)


@login_required
@require_POST
def webhook_enable(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponseBase:
    organization = selectors.administered_organization(user_id=_user_id(request), slug=slug)
    if not webhooks.endpoint_enable(endpoint_id=endpoint_id, organization_id=organization.pk):
        raise Http404("No such endpoint.")
    return redirect("alerts:webhook", slug=slug, endpoint_id=endpoint_id)


@login_required
@require_POST
def webhook_redeliver(request: HttpRequest, slug: str, endpoint_id: int, delivery_id: int) -> HttpResponseBase:
    organization = selectors.administered_organization(user_id=_user_id(request), slug=slug)
    endpoint = selectors.endpoint(organization_id=organization.pk, endpoint_id=endpoint_id)
    if not webhooks.redeliver(delivery_ids=[delivery_id], organization_id=organization.pk, endpoint_id=endpoint.pk):
        raise Http404("No such delivery.")
    return redirect("alerts:webhook", slug=slug, endpoint_id=endpoint_id)
