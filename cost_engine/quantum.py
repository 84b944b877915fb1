"""The paper's analytical quantum cost model (COST_MODEL.md section A) plus wall-clock time (section B):
scoring a compiled circuit on one calibration snapshot. Compilation lives in cost_engine.compiling, the
options and model version in cost_engine.options (both re-exported here)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration import Calibration
from .compiling import (CompileCache, CompiledCircuit, _longest_path, circuit_hash, compile_circuit,  # noqa: F401
                        target_for)
from .errors import CalibrationDataError, ConfigError
from .execution import DEFAULT_PROFILE, ExecutionProfile
from .options import LAYOUTS, MODEL_VERSION, CostOptions  # noqa: F401 - re-exported


@dataclass(frozen=True)
class QuantumCostReport:
    backend: str
    snapshot_calibrated_at: str
    num_qubits: int
    n_1q: int
    n_2q: int
    n_meas: int
    n_reset: int
    n_swaps: int
    n_2q_logical: int
    routing_overhead_2q: int
    depth: int
    depth_2q: int
    physical_qubits: list
    t_gate_serial_s: float
    t_sched_s: float
    ebar_1q: float | None
    ebar_2q: float | None
    ebar_ro: float | None
    log_p_keep: float | None
    log_esp: float | None
    t2_eff_s: float
    p_decoh: float
    log_t_eff: float | None
    t_eff_s: float | None
    t_eff_overflow: bool
    zero_survival: bool
    p_success: float
    rep_delay_s: float
    t_reset_s: float
    t_shot_s: float
    shots: int
    shots_total: float | None
    n_instructions: int
    wallclock_s: float
    execution_profile: dict
    model_version: str
    options: dict
    compile_cached: bool
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _log1m(e: float) -> float:
    """log(1 - e); -inf for e >= 1 (a broken gate: zero survival)."""
    return -math.inf if e >= 1.0 else math.log1p(-e)


def score(compiled: CompiledCircuit, calibration: Calibration, options: CostOptions,
          profile: ExecutionProfile = DEFAULT_PROFILE, compile_cached: bool = False) -> QuantumCostReport:
    """Score a compiled circuit on one snapshot: sections A2-A5 and B. No transpiling here."""
    notes: list[str] = []
    q = calibration.qubits
    gate = calibration._gate_index

    def reset_duration(qubit):
        g = gate.get(("reset", (qubit,)))
        return None if g is None else g.duration_s

    # per distinct (gate, qubits): duration, error, bucket (0 = 1q, 1 = 2q, 2 = readout, 3 = reset: no error term,
    # 4 = delay: idle time, in the schedule but not in T_gate);
    # a few dozen entries, so plain Python beats numpy's per-call overhead here
    dur_k = []
    n_b, e_sum_b = [0, 0, 0, 0, 0], [0.0, 0.0, 0.0, 0.0, 0.0]
    log_esp = 0.0
    for (name, qubits), count in zip(compiled.keys, compiled.key_counts):
        if name == "measure":
            p = q[qubits[0]]
            dur, err, bucket = p.readout_length_s, p.readout_error, 2
        elif name == "reset":
            dur, err, bucket = reset_duration(qubits[0]), 0.0, 3
        elif name.startswith("delay:"):
            dur, err, bucket = float(name[6:]), 0.0, 4
        else:
            g = gate.get((name, qubits))
            if g is None:
                raise CalibrationDataError(f"{calibration.backend_name} has no calibration for {name} on "
                                           f"qubits {list(qubits)}", field="calibration")
            dur, err = g.duration_s, g.error
            if err is None and name == "rz":
                err = 0.0
            bucket = 1 if len(qubits) == 2 else 0
        if dur is None or err is None:
            what = "duration" if dur is None else "error"
            raise CalibrationDataError(f"{calibration.backend_name}: {name} on qubits {list(qubits)} has no "
                                       f"calibrated {what}", field="calibration")
        dur_k.append(dur)
        n_b[bucket] += count
        e_sum_b[bucket] += count * err
        if bucket < 3:
            log_esp += count * _log1m(err)  # -inf once a used gate is broken (error >= 1)
    durations = np.asarray(dur_k)[compiled.op_key]
    t_gate = math.fsum([d * c for d, c, (name, _) in zip(dur_k, compiled.key_counts, compiled.keys)
                        if not name.startswith("delay:")])
    if t_gate <= 0:
        raise ConfigError("the compiled circuit has no timed operations", field="circuit")
    sums = {"1q": (n_b[0], e_sum_b[0]), "2q": (n_b[1], e_sum_b[1]), "ro": (n_b[2], e_sum_b[2])}
    n_reset = n_b[3]
    # Critical path: each op starts when the ops it waits for (previous ops on its qubit and clbit wires,
    # barriers synchronising theirs) have ended: the quantity qiskit's QuantumCircuit.estimate_duration
    # computes on the circuit's DAG (checked against it in the tests).
    t_sched = _longest_path(compiled.chain_preds, np.bincount(compiled.chain_of, weights=durations,
                                                              minlength=len(compiled.chain_preds)).tolist())

    used = compiled.physical_qubits
    t2s = [q[i].t2_s for i in used]
    if any(t is None or t <= 0 for t in t2s):
        bad = [i for i, t in zip(used, t2s) if t is None or t <= 0]
        raise CalibrationDataError(f"{calibration.backend_name}: T2 missing on used qubits {bad}", field="calibration")
    t2_eff = min(t2s) if options.t2_variant == "min" else math.fsum(t2s) / len(t2s)

    ebar = {b: (s[1] / s[0] if s[0] else None) for b, s in sums.items()}
    log_p_keep = math.fsum(s[0] * _log1m(ebar[b]) for b, s in sums.items() if s[0])
    zero = log_p_keep == -math.inf or log_esp == -math.inf
    p_decoh = -math.expm1(-t_gate / t2_eff)
    if zero:
        log_t_eff = t_eff = None
        overflow = False
        p_success = 0.0
        notes.append("zero survival: a gate with error >= 1 is used (broken gate); the circuit cannot succeed")
    else:
        log_t_eff = math.log(t_gate) - log_p_keep + t_gate / t2_eff
        overflow = log_t_eff > 709.0
        t_eff = None if overflow else math.exp(log_t_eff)
        p_success = math.exp(log_p_keep - t_sched / t2_eff)
    t_reset = 0.0
    if options.include_reset:
        known = [d for d in map(reset_duration, used) if d is not None]
        if known:
            t_reset = max(known)
        else:
            notes.append("no reset duration calibrated for the used qubits: T_shot has no reset term")
    if calibration.fixed_rep_time_s is not None:
        # fixed repetition rate: shots start every rep_time, whatever the circuit's length (if it fits)
        if options.rep_delay_s is not None:
            raise ConfigError(f"{calibration.backend_name} runs at a fixed repetition rate "
                              f"({calibration.fixed_rep_time_s * 1e6:g} us per shot): rep_delay_s does not apply",
                              field="rep_delay_s")
        t_shot = max(calibration.fixed_rep_time_s, t_sched + t_reset)
        rep_delay = t_shot - t_sched - t_reset
        notes.append(f"fixed repetition rate: T_shot = max(rep_time {calibration.fixed_rep_time_s * 1e6:g} us, "
                     f"circuit + reset)")
    else:
        rep_delay = options.rep_delay_s if options.rep_delay_s is not None else calibration.rep_delay_s
        if options.rep_delay_s is not None and calibration.rep_delay_range_s is not None:
            lo, hi = calibration.rep_delay_range_s
            if not lo <= options.rep_delay_s <= hi:
                raise ConfigError(f"rep_delay_s {options.rep_delay_s} is outside {calibration.backend_name}'s "
                                  f"range [{lo}, {hi}] s", field="rep_delay_s")
        if rep_delay is None:
            rep_delay = 250e-6
            notes.append("the snapshot gives no default rep_delay: used IBM's common default of 250 us")
        t_shot = t_sched + rep_delay + t_reset
    if p_success > 0:
        log_total = math.log(options.shots) - math.log(p_success)
        shots_total = math.exp(log_total) if log_total < 709 else None
    else:
        shots_total = None
    n_instr = compiled.n_ops
    notes.extend(calibration_flags(calibration))
    return QuantumCostReport(
        backend=calibration.backend_name, snapshot_calibrated_at=calibration.calibrated_at.isoformat(),
        num_qubits=compiled.num_qubits_logical, n_1q=sums["1q"][0], n_2q=sums["2q"][0], n_meas=sums["ro"][0],
        n_reset=n_reset, n_swaps=compiled.n_swaps, n_2q_logical=compiled.n_2q_logical,
        routing_overhead_2q=max(sums["2q"][0] - compiled.n_2q_logical, 0), depth=compiled.depth, depth_2q=compiled.depth_2q,
        physical_qubits=list(used), t_gate_serial_s=t_gate, t_sched_s=t_sched,
        ebar_1q=ebar["1q"], ebar_2q=ebar["2q"], ebar_ro=ebar["ro"],
        log_p_keep=None if zero else log_p_keep, log_esp=None if zero else log_esp,
        t2_eff_s=t2_eff, p_decoh=p_decoh, log_t_eff=log_t_eff, t_eff_s=t_eff, t_eff_overflow=overflow,
        zero_survival=zero, p_success=p_success, rep_delay_s=rep_delay, t_reset_s=t_reset, t_shot_s=t_shot,
        shots=options.shots, shots_total=shots_total, n_instructions=n_instr,
        wallclock_s=profile.predict(t_shot_s=t_shot, shots=options.shots, n_instructions=n_instr),
        execution_profile=profile.describe(), model_version=MODEL_VERSION, options=options.to_dict(),
        compile_cached=compile_cached, notes=notes + [n for n in calibration.notes if "broken" in n][:2])


def calibration_flags(calibration: Calibration) -> list[str]:
    """The snapshot's plausibility flags (cost_engine.plausibility), computed once per snapshot object."""
    flags = calibration.__dict__.get("_plausibility")
    if flags is None:
        from .plausibility import plausibility_flags

        flags = calibration.__dict__["_plausibility"] = tuple(plausibility_flags(calibration))
    return [f"snapshot flagged: {f}" for f in flags]


def estimate_quantum_cost(circuit, calibration: Calibration, options: CostOptions | None = None,
                          cache: CompileCache | None = None, profile: ExecutionProfile | None = None
                          ) -> QuantumCostReport:
    """Compile ``circuit`` (a QuantumCircuit or OpenQASM 2/3 text) for ``calibration``'s device and score it."""
    options = (options or CostOptions()).validate()
    compiled, cached = compile_circuit(circuit, calibration, options, cache)
    return score(compiled, calibration, options, profile or DEFAULT_PROFILE, compile_cached=cached)
