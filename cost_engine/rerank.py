"""A finished search's candidates re-costed on another calibration snapshot (drift, or another backend).

Pure Python. Accuracy and parameter counts belong to the trained model and do not change; only the quantum cost
does. Each candidate's circuit is rebuilt as the search built it (:func:`cost_engine.search.candidate_circuit`,
:func:`cost_engine.search.candidate_options`) and compiled and scored as :func:`cost_engine.quantum.estimate_quantum_cost`
does (:func:`candidate_report`) on a shared :class:`~cost_engine.quantum.CompileCache`, so a circuit already routed for the device's structure is
only placed and scored on the new snapshot. C_total is recomputed with :func:`cost_engine.training.retotal`
(the search's own formulas, classical terms kept), objectives with :func:`cost_engine.search.objectives` and
non-dominated ranks with :func:`cost_engine.search.pareto_ranks` (pymoo's NonDominatedSorting).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .errors import CostEngineError


@dataclass
class Recosted:
    key: str
    accuracy: float
    params_total: int
    runnable: bool
    c_q_wallclock_s: float | None
    c_total_s: float | None
    F: list
    log_esp: float | None = None
    shots_total: float | None = None
    physical_qubits: list | None = None
    reason: str = ""  # why the circuit cannot run there (the cost engine's refusal)

    def to_dict(self) -> dict:
        return {"c_q_wallclock_s": self.c_q_wallclock_s, "c_total_s": self.c_total_s, "runnable": self.runnable,
                "log10_c_total": self.F[1] if self.runnable else None, "log_esp": self.log_esp,
                "shots_total": self.shots_total, "physical_qubits": self.physical_qubits, "reason": self.reason}


def recost_candidate(key: str, genome: dict, accuracy: float, params_total: int, cost: dict, config,
                     calibration, cache=None, execution_profile=None) -> Recosted:
    """One candidate (its stored genome, validation accuracy, parameter count and training-cost terms) costed
    on ``calibration``, with the execution profile the search used (None: the built-in default)."""
    from .search import objectives
    from .training import retotal

    try:
        report = candidate_report(key, genome, config, calibration, cache, execution_profile)
    except CostEngineError as exc:  # the circuit cannot run on this snapshot: infeasible, with the reason
        F, _ = objectives(accuracy, None, params_total)
        return Recosted(key, accuracy, params_total, False, None, None, F, reason=str(exc))
    new = retotal(cost, report, epochs=config.epochs, batch_size=config.batch_size,
                  max_circuits_per_job=getattr(calibration, "max_experiments", None),
                  execution_profile=execution_profile)
    F, G = objectives(accuracy, new.get("c_total_s"), params_total)
    runnable = G <= 0
    return Recosted(key, accuracy, params_total, runnable, new.get("c_q_wallclock_s"), new.get("c_total_s"), F,
                    log_esp=report.get("log_esp"), shots_total=report.get("shots_total"),
                    physical_qubits=report.get("physical_qubits"),
                    reason="" if runnable else "zero survival: the circuit cannot succeed on this snapshot")


def candidate_report(key: str, genome: dict, config, calibration, cache=None, execution_profile=None) -> dict:
    """The candidate's quantum cost report on ``calibration``: its circuit rebuilt as the search built it
    (``candidate_circuit``, ``candidate_options``), compiled and scored as ``estimate_quantum_cost`` does, with one
    difference: with a cache, the compile-cache key of the circuit is the genome key and seed instead of
    ``circuit_hash`` of the rebuilt circuit, which on every snapshot would re-hash the circuit, amplitude state
    preparations synthesised down to their definitions (most of the time of a warm re-rank). Equal reports
    either way (tested against ``estimate_quantum_cost``)."""
    from .compiling import compile_circuit
    from .execution import DEFAULT_PROFILE
    from .hqnn import Genome
    from .quantum import score
    from .search import candidate_circuit, candidate_options

    options = candidate_options(config).validate()
    qc = candidate_circuit(Genome.from_dict(genome), config.seed)
    circuit_key = f"hqnn-genome:{key}:seed={config.seed}" if cache is not None else None
    compiled, cached = compile_circuit(qc, calibration, options, cache, circuit_key=circuit_key)
    return score(compiled, calibration, options, execution_profile or DEFAULT_PROFILE,
                 compile_cached=cached).to_dict()


def rank(results: list[Recosted]) -> list[int]:
    """Non-dominated ranks (0 = front) of the re-costed candidates, infeasible ones after every feasible one."""
    from .search import pareto_ranks

    if not results:
        return []
    F = np.asarray([r.F for r in results], dtype=float)
    return [int(x) for x in pareto_ranks(F, np.asarray([r.runnable for r in results]))]


def moves(before: dict, after: dict) -> dict:
    """Which architectures entered or left the front and how each moved. ``before``/``after`` map a genome key
    to ``{"rank": int, "on_front": bool, "c_total_s": float | None}``. Returns entered, left (keys) and, per
    key present in both, the rank change (after - before, positive = worse) and the C_total ratio
    (after / before; None when either side is unrunnable)."""
    entered = sorted(k for k, a in after.items() if a["on_front"] and not before.get(k, {}).get("on_front"))
    left = sorted(k for k, b in before.items() if b["on_front"] and not after.get(k, {}).get("on_front"))
    moved = {}
    for k in before.keys() & after.keys():
        b, a = before[k], after[k]
        ratio = (a["c_total_s"] / b["c_total_s"]) if a.get("c_total_s") and b.get("c_total_s") else None
        moved[k] = {"rank_before": b["rank"], "rank_after": a["rank"],
                    "rank_change": None if a["rank"] is None or b["rank"] is None else a["rank"] - b["rank"],
                    "cost_ratio": ratio}
    return {"entered": entered, "left": left, "moved": moved}


def movement_size(m: dict) -> tuple:
    """Sort key: largest rank change first, then largest |log cost ratio|."""
    ratio = m.get("cost_ratio")
    return (-abs(m.get("rank_change") or 0), -(abs(math.log(ratio)) if ratio else math.inf))


def recost_many(rows: Iterable[dict], config, calibration, cache=None, execution_profile=None) -> list[Recosted]:
    """Re-cost rows of ``{"key", "genome", "accuracy", "params_total", "cost"}`` in order."""
    return [recost_candidate(r["key"], r["genome"], r["accuracy"], r["params_total"], r["cost"], config,
                             calibration, cache, execution_profile) for r in rows]
