from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from minerals import selectors


def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboards/overview.html", {"rows": selectors.production_overview()})
