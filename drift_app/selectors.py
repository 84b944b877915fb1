"""Read operations of drift watches: the team/visibility rules of search_app (owner, team members, superusers)."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from hanas_platform.api import InputError

from .models import Alert, Watch, WebhookDelivery


def visible_watches(user) -> QuerySet[Watch]:
    """Watches the user owns or shares through a team (a Django group); everything for a superuser; nothing
    for an anonymous caller (watches name a team's circuits and endpoints)."""
    qs = Watch.objects.select_related("owner", "team", "circuit")
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(Q(owner=user) | Q(team__in=user.groups.all())).distinct()


def watch_get(user, watch_id) -> Watch:
    try:
        return visible_watches(user).get(pk=int(watch_id))
    except (Watch.DoesNotExist, ValueError, TypeError):
        raise InputError(f"watch {watch_id} not found", field="id", status_code=404) from None


def visible_alerts(user) -> QuerySet[Alert]:
    return (Alert.objects.filter(watch__in=visible_watches(user).values("pk"))
            .select_related("watch", "circuit", "backend", "snapshot", "baseline_snapshot")
            .defer("snapshot__data", "snapshot__edges", "baseline_snapshot__data", "baseline_snapshot__edges",
                   "backend__coupling_map", "backend__basis_gates", "circuit__qasm"))


def alert_get(user, alert_id) -> Alert:
    try:
        return visible_alerts(user).get(pk=int(alert_id))
    except (Alert.DoesNotExist, ValueError, TypeError):
        raise InputError(f"alert {alert_id} not found", field="id", status_code=404) from None


def deliveries(watch: Watch) -> QuerySet[WebhookDelivery]:
    return watch.deliveries.prefetch_related("attempt_log").order_by("-created_at")
