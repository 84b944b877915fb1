"""CSV export of list answers (issue 17): a small DRF renderer chosen with ``?format=csv`` or
``Accept: text/csv``, and a mixin that adds it to a view (list views then export every row up to
HANAS_CSV_MAX_ROWS instead of one page).

Written here rather than taken from djangorestframework-csv (last released 2023-12, before the pinned DRF 3.18)
because our answers are objects holding a table (``rows``, ``points``, ``results``) next to scalars that label it
(backend, metric, options), which that package flattens into a single line."""
from __future__ import annotations

import csv
import io
import json

from django.conf import settings
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

# The table of an answer, in order of preference; an answer without one exports each list of objects it holds,
# with a "table" column naming the list.
TABLE_KEYS = ("results", "rows", "points", "front")
SKIP_SCALARS = {"count", "next", "previous"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _flatten(obj, prefix: str = "", out: dict | None = None) -> dict:
    out = {} if out is None else out
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{name}.", out)
        else:
            out[name] = value
    return out


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        try:
            float(text)
        except ValueError:
            return "'" + text  # a spreadsheet must not run it as a formula
    return text


def table_rows(data) -> list[dict]:
    """The rows a JSON answer exports: a list as is; an object's table (with the object's scalar fields as
    leading columns); else each of its lists of objects, tagged; else the object as one row."""
    if isinstance(data, list):
        return [_flatten(r) if isinstance(r, dict) else {"value": r} for r in data]
    if not isinstance(data, dict):
        return [{"value": data}]
    scalars = {k: v for k, v in data.items() if not isinstance(v, (list, dict)) and k not in SKIP_SCALARS}
    for key in TABLE_KEYS:
        if isinstance(data.get(key), list):
            return [{**scalars, **(_flatten(r) if isinstance(r, dict) else {"value": r})} for r in data[key]]
    tables = [(k, v) for k, v in data.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
    if tables:
        return [{"table": k, **scalars, **_flatten(r)} for k, rows in tables for r in rows]
    return [_flatten(data)]


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        rows = table_rows(data)
        header: list[str] = []
        seen = set()
        for row in rows:
            for key in row:
                if key not in seen:
                    seen.add(key)
                    header.append(key)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([_cell(h) for h in header])
        for row in rows:
            writer.writerow([_cell(row.get(h)) for h in header])
        return out.getvalue().encode(self.charset)


def wants_csv(request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return getattr(renderer, "format", None) == "csv"


class CSVExportMixin:
    """Adds the CSV renderer to a view; a list view asked for CSV exports every row (up to HANAS_CSV_MAX_ROWS)
    rather than one page."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def paginate_queryset(self, queryset):
        if wants_csv(self.request):
            self._csv_all = True
            return list(queryset[: settings.HANAS_CSV_MAX_ROWS])
        return super().paginate_queryset(queryset)

    def get_paginated_response(self, data):
        if getattr(self, "_csv_all", False):
            return Response(data)
        return super().get_paginated_response(data)

    def finalize_response(self, request, response, *args, **kwargs):
        """Errors stay JSON (the documented error body) even when the caller asked for CSV."""
        if getattr(response, "status_code", 200) >= 400 and isinstance(getattr(request, "accepted_renderer", None),
                                                                        CSVRenderer):
            from rest_framework.renderers import JSONRenderer

            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
