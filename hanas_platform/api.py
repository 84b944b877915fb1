"""Project-wide API helpers: the exception handler and the health endpoint."""
from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def response_doc(name: str, **fields: str):
    """The OpenAPI shape of a JSON answer a view assembles itself: ``field="description"``; a description
    starting with "list:" documents a list of objects, with "object:" an object, otherwise a scalar. A trailing
    underscore is dropped from the name (``from_`` documents "from")."""
    def field(text: str):
        if text.startswith("list:"):
            return serializers.ListField(child=serializers.DictField(), help_text=text[5:].strip())
        if text.startswith("object:"):
            return serializers.DictField(help_text=text[7:].strip())
        return serializers.JSONField(help_text=text)

    return inline_serializer(name, {k.rstrip("_"): field(v) for k, v in fields.items()})


class InputError(ValueError):
    """Bad user input detected below the API layer (services, cost engine adapters).

    ``field`` names the offending input so the API can answer 400 naming it.
    """

    status_code = 400

    def __init__(self, message: str, field: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.field = field
        if status_code is not None:
            self.status_code = status_code


def no_markup(data):
    """Error bodies never echo raw markup: every ``<`` of any text (and key) is escaped as ``&lt;``, so no tag can
    form (a name like ``<script>`` given in a request comes back as ``&lt;script>``), while messages such as
    ``0->1`` or ``must be > 0`` stay readable."""
    if isinstance(data, str):
        return data.replace("<", "&lt;")
    if isinstance(data, dict):
        return {no_markup(k) if isinstance(k, str) else k: no_markup(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [no_markup(v) for v in data]
    return data


def exception_handler(exc, context):
    if isinstance(exc, InputError):
        body = {"detail": str(exc)}
        if exc.field:
            body = {exc.field: [str(exc)], "detail": str(exc)}
        return Response(no_markup(body), status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, (dict, list, str)):
        response.data = no_markup(response.data)
    return response


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - the health endpoint reports any failure
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor, "latency_ms": round((time.perf_counter() - started) * 1e3, 2)}


def _check_broker_and_workers() -> tuple[dict, dict]:
    if settings.CELERY_EAGER:
        eager = {"ok": True, "mode": "eager", "detail": "CELERY_BROKER_URL unset: tasks run in-process"}
        return eager, {"ok": True, "mode": "eager", "count": 0, "names": []}
    from hanas_platform.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        broker = {"ok": True, "mode": "broker", "transport": app.conf.broker_url.split("://", 1)[0]}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "mode": "broker", "error": str(exc)}, {"ok": False, "count": 0, "names": []}
    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception as exc:  # noqa: BLE001
        return broker, {"ok": False, "count": 0, "names": [], "error": str(exc)}
    names = sorted(name for reply in replies for name in reply)
    return broker, {"ok": bool(names), "count": len(names), "names": names}


@extend_schema(responses={200: dict, 503: dict}, summary="Database, broker and worker status")
@api_view(["GET"])
@permission_classes([AllowAny])
def health(request):
    database = _check_database()
    broker, workers = _check_broker_and_workers()
    # No worker is degraded, not down: requests still work, queued tasks wait.
    healthy = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if healthy and workers["ok"] else ("degraded" if healthy else "down"),
        "database": database,
        "broker": broker,
        "workers": workers,
    }
    return Response(body, status=200 if healthy else 503)
