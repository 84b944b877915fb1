"""Server-rendered dashboard pages for calibrations and circuits (HTML). Page views read through
benchmarks_app.selectors (404 for unknown names); the charts are drawn in the browser from the REST API
(/api/backends/..., /api/circuits/..., /api/leaderboards/backends/), so the pages hold no second copy of any state."""
from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from hanas_platform.api import InputError

from . import selectors

# Calibration metrics plotted as trends (CalibrationSnapshot summary columns; times in seconds).
COHERENCE_METRICS = [("t1_median", "T1 median"), ("t2_median", "T2 median")]
ERROR_METRICS = [("error_1q_median", "1-qubit gate error median"), ("error_2q_median", "2-qubit gate error median"),
                 ("readout_error_median", "readout error median")]
# Circuit cost metrics offered on the circuit page (labels; the API validates the names).
COST_METRIC_LABELS = {
    "wallclock_s": "wall-clock time of the job [s]", "t_eff_s": "T_eff: time per successful shot [s]",
    "log_esp": "log ESP (estimated success probability)", "log_t_eff": "log T_eff",
    "t_sched_s": "T_sched: scheduled circuit length [s]", "n_swaps": "SWAPs inserted by routing",
    "shots_total": "shots needed (S_total)",
}


def backend_list(request):
    return render(request, "benchmarks_app/backend_list.html", {
        "page_config": {"api": reverse("backend-list"), "metrics": COHERENCE_METRICS + ERROR_METRICS},
    })


def backend_detail(request, name: str):
    try:
        backend = selectors.backend_get(name, request.user)
    except InputError:
        raise Http404(f"unknown backend {name!r}") from None
    return render(request, "benchmarks_app/backend_detail.html", {
        "name": backend.name, "backend": backend,
        "page_config": {
            "name": backend.name,
            "api": {"backend": reverse("backend-detail", args=[backend.name]),
                    "snapshots": reverse("snapshot-list", args=[backend.name]),
                    "trends": reverse("backend-trends", args=[backend.name])},
            "coherence_metrics": COHERENCE_METRICS, "error_metrics": ERROR_METRICS,
        },
    })


def circuit_list(request):
    return render(request, "benchmarks_app/circuit_list.html", {
        "page_config": {"api": reverse("circuit-list")},
    })


def circuit_detail(request, pk: int):
    try:
        circuit = selectors.circuit_get(pk)
    except InputError:
        raise Http404(f"circuit {pk} not found") from None
    metrics = [(m, COST_METRIC_LABELS.get(m, m)) for m in selectors.LEADERBOARD_METRICS
               if m in selectors.TREND_METRICS]
    return render(request, "benchmarks_app/circuit_detail.html", {
        "pk": circuit.pk, "circuit": circuit,
        "page_config": {
            "circuit": circuit.pk, "num_qubits": circuit.num_qubits, "metrics": metrics,
            "higher_is_better": {m: selectors.LEADERBOARD_METRICS[m] for m, _ in metrics},
            "api": {"cost_trend": reverse("circuit-cost-trend", args=[circuit.pk]),
                    "leaderboard": reverse("leaderboard-backends"),
                    "backends": reverse("backend-list")},
        },
    })
