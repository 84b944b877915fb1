"""Ingest-time plausibility check of a calibration snapshot against its processor family (COST_MODEL.md,
"Inputs"). A snapshot whose median gate time, readout time, coherence or error is far from what the family's
other devices report is kept as reported (it may be real) but flagged, so that every estimate made on it says
so. Example: the bundled ``ibmq_toronto`` snapshot reports sx 569 ns and readout 85.6 us, 16-21x its sibling
Falcons, which makes its T_eff about 1e16 s.

``FAMILY_REFERENCE`` holds, per family, the median over the real device snapshots bundled with
qiskit-ibm-runtime 0.51.0 of each snapshot's median value (computed once with ``cost_engine.calibration``'s
summaries; the device counts are in the comments). A value is implausible when it is more than
``FACTOR`` times larger or smaller than that reference: 10x is outside every bundled snapshot of every family
but toronto's durations (the widest honest spread is Falcon readout time, 0.68-5.6 us around 4 us, and Falcon
readout error, 8.6x at ibm_lagos).
"""
from __future__ import annotations

from .calibration import Calibration

FACTOR = 10.0

_METRICS = {
    # summary key: (label, unit scale, unit)
    "duration_1q_median": ("median 1q gate duration", 1e9, "ns"),
    "duration_2q_median": ("median 2q gate duration", 1e9, "ns"),
    "readout_duration_median": ("median readout duration", 1e6, "us"),
    "t1_median": ("median T1", 1e6, "us"),
    "t2_median": ("median T2", 1e6, "us"),
    "error_1q_median": ("median 1q gate error", 1.0, ""),
    "error_2q_median": ("median 2q gate error", 1.0, ""),
    "readout_error_median": ("median readout error", 1.0, ""),
}

FAMILY_REFERENCE: dict[str, dict[str, float]] = {
    "Falcon": {  # 28 snapshots
        "duration_1q_median": 3.56e-08, "duration_2q_median": 4.02e-07, "readout_duration_median": 4.05e-06,
        "t1_median": 1.09e-04, "t2_median": 9.36e-05, "error_1q_median": 2.91e-04, "error_2q_median": 9.07e-03,
        "readout_error_median": 1.97e-02},
    "Eagle": {  # 11 snapshots
        "duration_1q_median": 6.0e-08, "duration_2q_median": 5.94e-07, "readout_duration_median": 1.3e-06,
        "t1_median": 2.37e-04, "t2_median": 1.36e-04, "error_1q_median": 2.52e-04, "error_2q_median": 8.29e-03,
        "readout_error_median": 1.98e-02},
    "Heron": {  # 7 snapshots
        "duration_1q_median": 3.2e-08, "duration_2q_median": 6.8e-08, "readout_duration_median": 2.28e-06,
        "t1_median": 2.32e-04, "t2_median": 1.44e-04, "error_1q_median": 2.29e-04, "error_2q_median": 1.8e-03,
        "readout_error_median": 7.57e-03},
    "Nighthawk": {  # 3 snapshots
        "duration_1q_median": 3.2e-08, "duration_2q_median": 6.8e-08, "readout_duration_median": 2.4e-06,
        "t1_median": 3.24e-04, "t2_median": 2.48e-04, "error_1q_median": 1.97e-04, "error_2q_median": 2.71e-03,
        "readout_error_median": 1.79e-02},
    "Canary": {  # 3 snapshots
        "duration_1q_median": 5.33e-08, "duration_2q_median": 6.86e-07, "readout_duration_median": 3.56e-06,
        "t1_median": 5.32e-05, "t2_median": 5.49e-05, "error_1q_median": 1.06e-03, "error_2q_median": 2.52e-02,
        "readout_error_median": 4.76e-02},
    "Hummingbird": {  # 2 snapshots
        "duration_1q_median": 3.56e-08, "duration_2q_median": 3.68e-07, "readout_duration_median": 4.63e-06,
        "t1_median": 6.35e-05, "t2_median": 8.21e-05, "error_1q_median": 3.83e-04, "error_2q_median": 1.19e-02,
        "readout_error_median": 2.37e-02},
    "Egret": {  # 1 snapshot
        "duration_1q_median": 2.49e-08, "duration_2q_median": 7.82e-08, "readout_duration_median": 1.17e-06,
        "t1_median": 1.45e-04, "t2_median": 1.18e-04, "error_1q_median": 1.79e-04, "error_2q_median": 3.16e-03,
        "readout_error_median": 1.09e-02},
}


def plausibility_flags(calibration: Calibration, summary: dict | None = None) -> list[str]:
    """Human-readable flags, one per implausible metric; empty when the snapshot looks like its family
    (or when its family has no reference, which is said in one flag-free note by the caller if wanted)."""
    ref = FAMILY_REFERENCE.get(calibration.processor_family or "")
    if ref is None:
        return []
    summary = summary if summary is not None else calibration.summary()
    flags = []
    for key, (label, scale, unit) in _METRICS.items():
        value, typical = summary.get(key), ref.get(key)
        if not value or not typical:
            continue
        ratio = value / typical
        if ratio > FACTOR or ratio < 1 / FACTOR:
            flags.append(f"implausible {label}: {value * scale:.4g}{' ' + unit if unit else ''} is "
                         f"{ratio if ratio > 1 else 1 / ratio:.1f}x {'above' if ratio > 1 else 'below'} the "
                         f"{calibration.processor_family} family's typical {typical * scale:.4g}"
                         f"{' ' + unit if unit else ''}")
    return flags
