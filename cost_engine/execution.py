"""Wall-clock execution profiles (COST_MODEL.md section B).

T_job = sum over the job's circuits of S T_shot (fixed: the physics of the shots) plus a linear model of the
job's overheads: c_job per job, c_circuit per circuit, and per-circuit terms of the COMPILED circuit's
structure (instructions, two-qubit gates, measurements, layers of depth, physical qubits, shots, shots x
instructions, shots x measurements). The documented IBM default keeps only c_job = 2 s; a fitted profile
(cost_engine.execution_fit) keeps the terms a user's own job log supports. Every term is a function of a stored
cost report, so wall-clock under any profile is computed at read time from one stored estimate.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from .errors import ConfigError, dataclass_fields

IBM_DOC_SOURCE = ("IBM Quantum documentation, 'Estimate job run time' (guides/estimate-job-run-time): about 2 s "
                  "per sub-job plus (rep_delay + circuit length) x executions; quick form 2 + 0.00035 x executions s "
                  "at the default 250 us rep_delay")

# term -> (coefficient field of ExecutionProfile, unit it is paid per). Order is the display order.
TERMS: dict[str, tuple[str, str]] = {
    "job": ("c_job_s", "job"),
    "circuit": ("c_circuit_s", "circuit in the job"),
    "instruction": ("c_instruction_s", "compiled instruction (per circuit)"),
    "two_qubit_gate": ("c_two_qubit_gate_s", "compiled two-qubit gate (per circuit)"),
    "measurement": ("c_measurement_s", "measurement (per circuit)"),
    "layer": ("c_layer_s", "layer of compiled depth (per circuit)"),
    "two_qubit_layer": ("c_two_qubit_layer_s", "layer of compiled two-qubit depth (per circuit)"),
    "schedule": ("k_schedule", "second of the compiled schedule T_sched, loaded once per circuit (dimensionless)"),
    "qubit": ("c_qubit_s", "physical qubit used (per circuit)"),
    "shot": ("c_shot_s", "shot, beyond T_shot"),
    "shot_instruction": ("c_shot_instruction_s", "shot x compiled instruction"),
    "shot_measurement": ("c_shot_measurement_s", "shot x measurement"),
}
COEFFICIENTS = tuple(field for field, _ in TERMS.values())


@dataclass(frozen=True)
class CircuitTerms:
    """What the wall-clock model needs of one compiled circuit run ``count`` times with ``shots`` shots each."""
    t_shot_s: float
    shots: int
    n_instructions: int = 0
    n_2q: int = 0
    n_meas: int = 0
    depth: int = 0
    n_qubits: int = 0
    depth_2q: int = 0
    t_sched_s: float = 0.0
    count: int = 1
    t_eff_s: float | None = None

    @classmethod
    def from_report(cls, report: Mapping[str, Any], shots: int | None = None, count: int = 1) -> "CircuitTerms":
        """From a QuantumCostReport (or its stored dict); ``shots`` defaults to the report's."""
        physical = report.get("physical_qubits")
        return cls(t_shot_s=float(report["t_shot_s"]), shots=int(shots if shots is not None else report["shots"]),
                   n_instructions=int(report.get("n_instructions") or 0), n_2q=int(report.get("n_2q") or 0),
                   n_meas=int(report.get("n_meas") or 0), depth=int(report.get("depth") or 0),
                   n_qubits=len(physical) if isinstance(physical, (list, tuple)) else int(report.get("num_qubits") or 0),
                   depth_2q=int(report.get("depth_2q") or 0), t_sched_s=float(report.get("t_sched_s") or 0.0),
                   count=int(count), t_eff_s=report.get("t_eff_s"))

    def structure(self) -> tuple:
        """What identifies the compiled circuit (not how often or with how many shots it ran)."""
        return (self.n_instructions, self.n_2q, self.n_meas, self.depth, self.n_qubits, self.depth_2q,
                round(self.t_sched_s, 12), round(self.t_shot_s, 12))

    def term_values(self) -> dict[str, float]:
        """Each term's multiplier for this circuit (times ``count``); "job" is counted once per job, not here."""
        k, s = self.count, self.shots
        return {"circuit": k, "instruction": k * self.n_instructions, "two_qubit_gate": k * self.n_2q,
                "measurement": k * self.n_meas, "layer": k * self.depth, "two_qubit_layer": k * self.depth_2q,
                "schedule": k * self.t_sched_s, "qubit": k * self.n_qubits,
                "shot": k * s, "shot_instruction": k * s * self.n_instructions,
                "shot_measurement": k * s * self.n_meas}


def job_features(circuits: Iterable[CircuitTerms]) -> tuple[dict[str, float], float]:
    """(term -> multiplier over the whole job, the fixed shot time sum of S T_shot)."""
    feats = {t: 0.0 for t in TERMS}
    feats["job"] = 1.0
    shot_time = 0.0
    for c in circuits:
        for term, value in c.term_values().items():
            feats[term] += value
        shot_time += c.count * c.shots * c.t_shot_s
    return feats, shot_time


@dataclass(frozen=True)
class ExecutionProfile:
    name: str = "ibm-default"
    version: int = 1
    c_job_s: float = 2.0  # IBM_DOC_SOURCE: ~2 s per (sub-)job
    c_circuit_s: float = 0.0  # IBM_DOC_SOURCE gives no per-circuit term: 0 out of the box
    c_instruction_s: float = 0.0  # no published figure: 0 unless fitted from a user's log
    c_two_qubit_gate_s: float = 0.0
    c_measurement_s: float = 0.0
    c_layer_s: float = 0.0
    c_two_qubit_layer_s: float = 0.0
    k_schedule: float = 0.0
    c_qubit_s: float = 0.0
    c_shot_s: float = 0.0
    c_shot_instruction_s: float = 0.0
    c_shot_measurement_s: float = 0.0
    source: str = IBM_DOC_SOURCE
    fitted_on: str | None = None
    n_samples: int | None = None
    # prediction interval from held-out residuals: [prediction + lo, prediction + hi] at ``interval_level``
    interval_lo_s: float | None = None
    interval_hi_s: float | None = None
    interval_level: float | None = None

    def validate(self) -> "ExecutionProfile":
        if not isinstance(self.name, str) or not self.name or len(self.name) > 100 or "@" in self.name:
            raise ConfigError("profile name must be 1-100 characters without '@'", field="name")
        for f in COEFFICIENTS:
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{f} must be a finite number >= 0, got {v!r}", field=f)
        return self

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"

    def coefficients(self) -> dict[str, float]:
        return {term: getattr(self, field) for term, (field, _) in TERMS.items()}

    def predict_job(self, circuits: Iterable[CircuitTerms]) -> float:
        feats, shot_time = job_features(circuits)
        return shot_time + math.fsum(getattr(self, TERMS[t][0]) * v for t, v in feats.items())

    def circuit_overhead(self, circuit: CircuitTerms) -> float:
        """Seconds one execution of ``circuit`` adds to a job beyond its shots' own time S T_shot (the per-circuit
        overhead terms; not the per-job one)."""
        values = replace(circuit, count=1).term_values()
        return math.fsum(getattr(self, TERMS[t][0]) * v for t, v in values.items())

    def predict_report(self, report: Mapping[str, Any], shots: int | None = None, n_circuits: int = 1) -> float:
        """Wall-clock of a job running the report's circuit ``n_circuits`` times, from the stored terms."""
        return self.predict_job([CircuitTerms.from_report(report, shots, n_circuits)])

    def interval(self, prediction: float) -> list[float] | None:
        if self.interval_lo_s is None or self.interval_hi_s is None:
            return None
        return [max(prediction + self.interval_lo_s, 0.0), max(prediction + self.interval_hi_s, 0.0)]

    def predict(self, t_shot_s: float, shots: int, n_instructions: int = 0, n_circuits: int = 1) -> float:
        """The size-only form (kept for callers that have only T_shot and the instruction count)."""
        return self.predict_job([CircuitTerms(t_shot_s=t_shot_s, shots=shots, n_instructions=n_instructions,
                                              count=n_circuits)])

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "version": self.version}
        out.update({f: getattr(self, f) for f in COEFFICIENTS if f in ("c_job_s", "c_circuit_s", "c_instruction_s")
                    or getattr(self, f)})
        if self.interval_lo_s is not None:
            out.update(interval_lo_s=self.interval_lo_s, interval_hi_s=self.interval_hi_s,
                       interval_level=self.interval_level)
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExecutionProfile":
        """Our dict, or a fit report holding one under "profile"."""
        if isinstance(data, dict) and isinstance(data.get("profile"), dict) and "test" in data:
            data = data["profile"]
        return cls(**dataclass_fields(cls, data, "execution profile", "profile")).validate()


DEFAULT_PROFILE = ExecutionProfile()


def parse_profile_ref(ref: str) -> tuple[str, int | None]:
    """"name" or "name@vN" / "name@N" -> (name, version or None for the newest)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError("profile must be a name or name@vN", field="profile")
    name, sep, version = ref.strip().partition("@")
    if not sep:
        return name, None
    digits = version[1:] if version[:1] in ("v", "V") else version
    if not digits.isdigit() or int(digits) < 1:
        raise ConfigError(f"profile {ref!r}: the version after '@' must be vN with N >= 1", field="profile")
    return name, int(digits)
