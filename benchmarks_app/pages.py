"""Server-rendered dashboard pages for calibrations and circuits (HTML). The charts are drawn in the browser
from the REST API (/api/backends/..., /api/circuits/..., /api/leaderboards/backends/); these views only say
which endpoints to read, so the pages hold no second copy of any state."""
from __future__ import annotations

from django.shortcuts import render
from django.urls import Resolver404, resolve

# Calibration metrics plotted as trends (names of Calibration.summary(); times in seconds).
COHERENCE_METRICS = [("t1_median", "T1 median"), ("t2_median", "T2 median")]
ERROR_METRICS = [("error_1q_median", "1-qubit gate error median"), ("error_2q_median", "2-qubit gate error median"),
                 ("readout_error_median", "readout error median")]


def _api_available(path: str) -> bool:
    """True when the platform routes ``path`` (the pages never call an endpoint that does not exist)."""
    try:
        resolve(path)
        return True
    except Resolver404:
        return False


def backend_list(request):
    return render(request, "benchmarks_app/backend_list.html", {
        "page_config": {"api": "/api/backends/", "available": _api_available("/api/backends/"),
                        "metrics": COHERENCE_METRICS + ERROR_METRICS},
    })


def backend_detail(request, name: str):
    base = f"/api/backends/{name}/"
    return render(request, "benchmarks_app/backend_detail.html", {
        "name": name,
        "page_config": {
            "name": name, "available": _api_available(base),
            "api": {"backend": base, "snapshots": base + "snapshots/", "trends": base + "trends/"},
            "coherence_metrics": COHERENCE_METRICS, "error_metrics": ERROR_METRICS,
        },
    })


def circuit_list(request):
    return render(request, "benchmarks_app/circuit_list.html", {
        "page_config": {"api": "/api/circuits/", "available": _api_available("/api/circuits/")},
    })


def circuit_detail(request, pk: int):
    base = f"/api/circuits/{pk}/"
    return render(request, "benchmarks_app/circuit_detail.html", {
        "pk": pk,
        "page_config": {
            "circuit": pk,
            "available": _api_available(base) and _api_available(base + "cost-trend/"),
            "leaderboard_available": _api_available("/api/leaderboards/backends/"),
            "backends_available": _api_available("/api/backends/"),
            "api": {"circuit": base, "cost_trend": base + "cost-trend/", "leaderboard": "/api/leaderboards/backends/",
                    "backends": "/api/backends/"},
        },
    })
