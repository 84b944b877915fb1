"""Dashboard page of drift watches and alerts (server-rendered from drift_app.selectors: the same visibility as
the REST API)."""
from __future__ import annotations

from django.shortcuts import render

from . import selectors


def alert_list(request):
    watches = list(selectors.visible_watches(request.user)[:200])
    alerts = list(selectors.visible_alerts(request.user).select_related("delivery")[:200])
    for alert in alerts:
        alert.top_drivers = [d for d in (alert.drivers or [])[:3]]
        alert.delivery_info = getattr(alert, "delivery", None)
    return render(request, "drift_app/alert_list.html", {"watches": watches, "alerts": alerts, "page_config": {}})
