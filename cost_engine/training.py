"""Unified HQNN training cost (COST_MODEL.md section C): the quantum wall-clock of the jobs a hardware training
run submits, the classical seconds of its optimiser steps on a device profile, their sum, and the FLOPs-only
view."""
from __future__ import annotations

import math
from typing import Any

TRAINING_COST_VERSION = 2
# Circuits one job may hold when the backend does not say: qiskit-ibm-runtime's fake Eagle (sherbrooke) and
# Heron (torino) configurations both give ``max_experiments`` = 300.
DEFAULT_MAX_CIRCUITS_PER_JOB = 300


def job_plan(n_train: int, epochs: int, batch_size: int, n_eval: int, max_circuits_per_job: int) -> dict[str, int]:
    """The batching policy: one optimiser step = one Sampler submission holding the step's N_eval x batch
    circuit bindings, split into ceil(bindings / max circuits per job) jobs (IBM splits an oversized submission
    into sub-jobs, each paying the fixed per-job time)."""
    batch = max(1, min(batch_size, n_train))
    full, rest = divmod(n_train, batch)
    per_full = math.ceil(n_eval * batch / max_circuits_per_job)
    per_rest = math.ceil(n_eval * rest / max_circuits_per_job) if rest else 0
    return {"optimizer_steps": epochs * (full + (1 if rest else 0)), "jobs": epochs * (full * per_full + per_rest),
            "circuits_per_full_step": n_eval * batch, "jobs_per_full_step": per_full,
            "max_circuits_per_job": max_circuits_per_job}


def quantum_terms(quantum_report: dict, *, executions: int, jobs: int, shots: int, profile) -> dict[str, Any]:
    """The quantum side of C (wall-clock and paper C_Q) from one circuit's quantum cost report, the circuit
    executions and jobs of the training run and the execution profile. ``training_cost`` and the re-costing of
    a finished search on another snapshot (``retotal``) both use it."""
    from .execution import CircuitTerms

    shots_total = quantum_report.get("shots_total")
    t_shot = quantum_report["t_shot_s"]
    t_eff = quantum_report.get("t_eff_s")
    n_instr = int(quantum_report.get("n_instructions") or 0)
    unrunnable = bool(quantum_report.get("zero_survival")) or shots_total is None
    # every per-circuit term of the profile (a fitted one may use more than c_circuit and c_instruction), with
    # the shots actually needed (S_total) wherever shots enter
    per_circuit = None if unrunnable else (
        profile.circuit_overhead(CircuitTerms.from_report(quantum_report, shots=max(1, round(shots_total))))
        + shots_total * t_shot)
    job_overhead = jobs * profile.c_job_s
    return {"shots_total": shots_total, "t_shot_s": t_shot, "t_eff_s": t_eff, "n_instructions": n_instr,
            "unrunnable": unrunnable, "c_q_job_overhead_s": job_overhead,
            "c_q_wallclock_s": None if unrunnable else job_overhead + executions * per_circuit,
            "c_q_paper_s": None if t_eff is None else executions * shots * t_eff}


def retotal(cost: dict, quantum_report: dict, *, epochs: int, batch_size: int,
            max_circuits_per_job: int | None = None, execution_profile=None) -> dict[str, Any]:
    """``cost`` (a ``training_cost`` result) with the circuit costed anew, e.g. on another calibration snapshot
    or another backend: the classical terms (C_C, FLOPs, N_eval, samples) do not depend on the device and are
    kept; the job plan (the backend's circuits per job), C_Q and C_total are recomputed with the same formulas
    as ``training_cost``."""
    from .execution import DEFAULT_PROFILE

    profile = execution_profile or DEFAULT_PROFILE
    max_circuits = int(max_circuits_per_job or DEFAULT_MAX_CIRCUITS_PER_JOB)
    n_train = int(cost["samples_seen"]) // max(int(epochs), 1)
    n_eval = int(cost["n_eval"])
    plan = job_plan(n_train, epochs, batch_size, n_eval, max_circuits)
    q = quantum_terms(quantum_report, executions=int(cost["circuit_executions"]), jobs=plan["jobs"],
                      shots=int(cost["shots"]), profile=profile)
    c_c = cost["c_c_s"]
    c_total = None if q["c_q_wallclock_s"] is None else q["c_q_wallclock_s"] + c_c
    out = dict(cost)
    out.update(q)
    out.update({"optimizer_steps": plan["optimizer_steps"], "jobs": plan["jobs"],
                "circuits_per_full_step": plan["circuits_per_full_step"],
                "jobs_per_full_step": plan["jobs_per_full_step"], "max_circuits_per_job": max_circuits,
                "execution_profile": profile.describe(), "c_total_s": c_total,
                "log10_c_total": None if not c_total else math.log10(c_total),
                "c_c_share": None if not c_total else c_c / c_total})
    return out


def training_cost(genome, n_train: int, epochs: int, shots: int, quantum_report: dict, device_profile,
                  model=None, n_features: int | None = None, n_classes: int | None = None, batch_size: int = 32,
                  execution_profile=None, max_circuits_per_job: int | None = None) -> dict[str, Any]:
    """C_Q (wall-clock: jobs x c_job + executions x (c_circuit + n_instr c_instruction + S_total T_shot);
    paper: executions x S x T_eff), C_C (the classical optimiser steps, see classical.classical_cost),
    C_total = C_Q + C_C and the FLOPs-only view. Executions = epochs x n_train x N_eval, with N_eval from the
    model's autograd graph (parameter_shift.shift_terms)."""
    from .classical import classical_cost, simulation_flops_per_sample
    from .execution import DEFAULT_PROFILE
    from .hqnn.model import build_model
    from .parameter_shift import shift_terms

    if model is None:
        model = build_model(genome, n_features, n_classes, seed=0)
    n_features = model.pre[0].in_features
    profile = execution_profile or DEFAULT_PROFILE
    max_circuits = int(max_circuits_per_job or DEFAULT_MAX_CIRCUITS_PER_JOB)
    counts = model.param_counts()
    shifts = shift_terms(model, n_features)
    n_eval = shifts["n_eval"]
    samples_seen = epochs * n_train
    executions = samples_seen * n_eval
    plan = job_plan(n_train, epochs, batch_size, n_eval, max_circuits)
    q = quantum_terms(quantum_report, executions=executions, jobs=plan["jobs"], shots=shots, profile=profile)
    shots_total, t_shot, t_eff, n_instr = q["shots_total"], q["t_shot_s"], q["t_eff_s"], q["n_instructions"]
    unrunnable, job_overhead, c_q_wall, c_q_paper = (q["unrunnable"], q["c_q_job_overhead_s"], q["c_q_wallclock_s"],
                                                     q["c_q_paper_s"])
    classical = classical_cost(model, n_features, n_train, epochs, batch_size, device_profile)
    c_c = classical["c_c_s"]
    c_total = None if c_q_wall is None else c_q_wall + c_c
    flops_sim = simulation_flops_per_sample(genome)
    flops_only = classical["classical_flops_total"] + samples_seen * flops_sim
    return {
        "version": TRAINING_COST_VERSION,
        "p_q": counts["quantum"], "p_c": counts["classical"], "p_total": counts["total"],
        "n_steps": samples_seen, "samples_seen": samples_seen, "n_eval": n_eval, **shifts,
        "pre_layer_frozen": bool(genome.freeze_pre),
        "circuit_executions": executions, "shots": shots, "shots_total": shots_total, "t_shot_s": t_shot,
        "t_eff_s": t_eff, "n_instructions": n_instr,
        "optimizer_steps": plan["optimizer_steps"], "jobs": plan["jobs"],
        "circuits_per_full_step": plan["circuits_per_full_step"], "jobs_per_full_step": plan["jobs_per_full_step"],
        "max_circuits_per_job": max_circuits, "execution_profile": profile.describe(),
        "c_q_job_overhead_s": job_overhead, "c_q_wallclock_s": c_q_wall, "c_q_paper_s": c_q_paper,
        "c_c_s": c_c, "c_total_s": c_total, "log10_c_total": None if not c_total else math.log10(c_total),
        "c_c_share": None if not c_total else c_c / c_total,
        **{k: v for k, v in classical.items() if k not in ("c_c_s", "optimizer_steps")},
        "simulation_flops_per_sample": flops_sim, "flops_only_total": flops_only,
        "device_profile": device_profile.name, "unrunnable": unrunnable,
    }
