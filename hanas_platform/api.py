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
    response = _exception_handler_413(exc, context) or drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):  # e.g. SearchFilter's bare ValidationError
        response.data = {"detail": "; ".join(str(m) for m in response.data)}
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


# --- issue 17: an honest API contract -----------------------------------------------------------------------
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent  # noqa: E402
from django.http import JsonResponse  # noqa: E402

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def body_too_large(exc) -> dict:
    if isinstance(exc, TooManyFieldsSent):
        return {"detail": f"too many form fields; the limit is DATA_UPLOAD_MAX_NUMBER_FIELDS="
                          f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"}
    return {"detail": f"request body too large; the limit is DATA_UPLOAD_MAX_MEMORY_SIZE="
                      f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"}


def _exception_handler_413(exc, context):
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent)):
        return Response(body_too_large(exc), status=413)
    return None


def not_found(request, exception=None):
    """404 for unmatched URLs: JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"no such endpoint: {request.path}"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 raised outside the API views (e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE read by middleware)."""
    if request.path.startswith("/api/"):
        if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent)):
            return JsonResponse(body_too_large(exception), status=413)
        return JsonResponse({"detail": str(exception) or "bad request"}, status=400)
    from django.views.defaults import bad_request as default

    return default(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "internal server error"}, status=500)
    from django.views.defaults import server_error as default

    return default(request)


ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: `detail` says what is wrong; a field name, when present, maps to the messages "
                   "about that input (query parameter or body field).",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
}
ERROR_STATUSES = {"400": "Bad input: the body names the field", "401": "Authentication required",
                  "403": "Not allowed for this user", "404": "Not found (or not visible to this user)",
                  "413": "Body or circuit over a configured limit (named in the body)",
                  "409": "Conflict with the resource's current state"}


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation documents the JSON error answers it can give
    (400/401/403/404; 413 on writes), with one shared Error component, and the HTTP server's 414."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, op in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = ["400", "401", "403", "404"] + (["413"] if method in ("post", "put", "patch") else [])
            responses = op.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": ERROR_STATUSES[code], "content": ref})
            # answered by the HTTP server (gunicorn) before Django sees the request: its own HTML page
            responses.setdefault("414", {"description": "Request line longer than the HTTP server accepts "
                                                        "(gunicorn's limit_request_line, 4094 bytes)",
                                         "content": {"text/html": {"schema": {"type": "string"}}}})
            for code, response in responses.items():  # 4xx a view declared by description only (e.g. 409)
                if code.startswith("4") and "content" not in response:
                    response["content"] = ref
    return result
