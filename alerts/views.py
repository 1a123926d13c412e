"""The inbox: a signed-in user's own notifications, and marking them read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from alerts import fanout, selectors, services
from alerts.forms import WatchForm


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
    context = {
        "form": form,
        "watches": list(selectors.watches(user_id)),
        "portfolio_minerals": list(selectors.portfolio_minerals(user_id)),
    }
    return render(request, "alerts/watching.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def unwatch(request: HttpRequest, watch_id: int) -> HttpResponseBase:
    if not services.watch_remove(user_id=_user_id(request), watch_id=watch_id):
        raise Http404("No such watch.")
    return redirect("alerts:watching")
