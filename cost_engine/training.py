"""Unified HQNN training cost (COST_MODEL.md section C): quantum wall-clock from the calibrated quantum cost
report, classical seconds from FLOPs on a device profile, and their sum."""
from __future__ import annotations

import math
from typing import Any


def training_cost(genome, n_train: int, epochs: int, shots: int, quantum_report: dict, device_profile,
                  model=None, n_features: int | None = None, n_classes: int | None = None) -> dict[str, Any]:
    """C_Q (wall-clock: N_steps N_eval S_total T_shot; paper: N_steps N_eval S T_eff), C_C, C_total and the
    FLOPs-only view. N_eval = 1 + 2 P_q (parameter shift), N_steps = epochs x training samples."""
    from .classical import classical_flops_per_sample, flops_to_seconds, simulation_flops_per_sample
    from .hqnn.model import build_model

    if model is None:
        model = build_model(genome, n_features, n_classes, seed=0)
    counts = model.param_counts()
    p_q = counts["quantum"]
    n_steps = epochs * n_train
    n_eval = 1 + 2 * p_q
    executions = n_steps * n_eval
    shots_total = quantum_report.get("shots_total")
    t_shot = quantum_report["t_shot_s"]
    t_eff = quantum_report.get("t_eff_s")
    unrunnable = bool(quantum_report.get("zero_survival")) or shots_total is None
    c_q_wall = None if unrunnable else executions * shots_total * t_shot
    c_q_paper = None if t_eff is None else executions * shots * t_eff
    flops_c = classical_flops_per_sample(model, model.pre[0].in_features)
    c_c = flops_to_seconds(n_steps * flops_c, device_profile)
    c_total = None if c_q_wall is None else c_q_wall + c_c
    flops_sim = simulation_flops_per_sample(genome)
    return {
        "p_q": p_q, "p_c": counts["classical"], "p_total": counts["total"], "n_steps": n_steps, "n_eval": n_eval,
        "circuit_executions": executions, "shots": shots, "shots_total": shots_total, "t_shot_s": t_shot,
        "t_eff_s": t_eff, "c_q_wallclock_s": c_q_wall, "c_q_paper_s": c_q_paper, "c_c_s": c_c,
        "c_total_s": c_total, "log10_c_total": None if not c_total else math.log10(c_total),
        "classical_flops_per_sample": flops_c, "simulation_flops_per_sample": flops_sim,
        "flops_only_total": n_steps * (flops_c + flops_sim), "device_profile": device_profile.name,
        "unrunnable": unrunnable,
    }
