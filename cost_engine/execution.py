"""Wall-clock execution profiles (COST_MODEL.md section B): T_job = c_job + n_circuits (c_circuit +
n_instructions c_instruction + S T_shot), with documented defaults and a fit from a user's own job log."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from .errors import ConfigError, dataclass_fields

IBM_DOC_SOURCE = ("IBM Quantum documentation, 'Estimate job run time' (guides/estimate-job-run-time): about 2 s "
                  "per sub-job plus (rep_delay + circuit length) x executions; quick form 2 + 0.00035 x executions s "
                  "at the default 250 us rep_delay")


@dataclass(frozen=True)
class ExecutionProfile:
    name: str = "ibm-default"
    version: int = 1
    c_job_s: float = 2.0  # IBM_DOC_SOURCE: ~2 s per (sub-)job
    c_circuit_s: float = 0.0  # IBM_DOC_SOURCE gives no per-circuit term: 0 out of the box
    c_instruction_s: float = 0.0  # no published figure: 0 unless fitted from a user's log
    source: str = IBM_DOC_SOURCE
    fitted_on: str | None = None
    n_samples: int | None = None

    def predict(self, t_shot_s: float, shots: int, n_instructions: int = 0, n_circuits: int = 1) -> float:
        return self.c_job_s + n_circuits * (self.c_circuit_s + n_instructions * self.c_instruction_s
                                            + shots * t_shot_s)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "c_job_s": self.c_job_s, "c_circuit_s": self.c_circuit_s,
                "c_instruction_s": self.c_instruction_s}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExecutionProfile":
        return cls(**dataclass_fields(cls, data, "execution profile", "profile"))


DEFAULT_PROFILE = ExecutionProfile()


@dataclass(frozen=True)
class Observation:
    """One observed job: its circuit's T_shot, shots, instruction count, the paper's T_eff, observed seconds."""
    t_shot_s: float
    shots: int
    n_instructions: int
    observed_s: float
    t_eff_s: float | None = None


def _errors(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    return {"mae_s": float(np.mean(np.abs(pred - obs))),
            "median_rel_error": float(np.median(np.abs(pred - obs) / obs))}


def _nnls_fit(rows: list[Observation], with_instruction: bool) -> tuple[float, float, float]:
    from scipy.optimize import nnls

    # one circuit per job here, so c_job and c_circuit are not separately identifiable: fit their sum as c_job
    A = [[1.0] + ([r.n_instructions] if with_instruction else []) for r in rows]
    b = [r.observed_s - r.shots * r.t_shot_s for r in rows]
    coef, _ = nnls(np.asarray(A, float), np.asarray(b, float))
    return float(coef[0]), 0.0, float(coef[1]) if with_instruction else 0.0


def fit_profile(rows: Iterable[Observation], name: str = "fitted", version: int = 1, test_fraction: float = 0.3,
                seed: int = 0, fitted_on: str | None = None) -> dict[str, Any]:
    """Fit c_job (and c_instruction when it lowers the error on held-out data) by non-negative least squares on
    observed - S T_shot. Reports MAE and median relative error on the test split for the fitted profile, the
    default profile and the paper's raw T_eff x S used as a predictor."""
    rows = list(rows)
    if len(rows) < 6:
        raise ConfigError(f"need at least 6 observed jobs to fit and test, got {len(rows)}", field="observations")
    if not 0.1 <= test_fraction <= 0.9:
        raise ConfigError("test_fraction must be in [0.1, 0.9]", field="test_fraction")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    n_test = max(2, int(round(len(rows) * test_fraction)))
    test = [rows[i] for i in order[:n_test]]
    train = [rows[i] for i in order[n_test:]]
    obs = np.asarray([r.observed_s for r in test])

    def predict(p: ExecutionProfile, rs):
        return np.asarray([p.predict(r.t_shot_s, r.shots, r.n_instructions) for r in rs])

    # choose whether the per-instruction term is supported by the data: cross-validate on the training split
    candidates = {}
    for with_instr in (False, True):
        k = max(2, len(train) // 4)
        errs = []
        for fold in range(0, len(train), k):
            held = train[fold:fold + k]
            fit_rows = train[:fold] + train[fold + k:]
            if len(fit_rows) < 2:
                continue
            cj, cc, ci = _nnls_fit(fit_rows, with_instr)
            p = ExecutionProfile(c_job_s=cj, c_circuit_s=cc, c_instruction_s=ci)
            errs.append(np.mean(np.abs(predict(p, held) - np.asarray([r.observed_s for r in held]))))
        candidates[with_instr] = float(np.mean(errs)) if errs else math.inf
    with_instr = candidates[True] < 0.95 * candidates[False]
    cj, cc, ci = _nnls_fit(train, with_instr)
    fitted = ExecutionProfile(name=name, version=version, c_job_s=cj, c_circuit_s=cc, c_instruction_s=ci,
                              source=f"fitted by non-negative least squares on {len(train)} observed jobs",
                              fitted_on=fitted_on, n_samples=len(train))
    report = {"profile": fitted.to_dict(), "n_train": len(train), "n_test": len(test),
              "per_instruction_term": with_instr, "cv_mae_without_instruction_term_s": candidates[False],
              "cv_mae_with_instruction_term_s": candidates[True],
              "test": {"fitted": _errors(predict(fitted, test), obs),
                       "default": _errors(predict(DEFAULT_PROFILE, test), obs)}}
    teff = [r for r in test if r.t_eff_s is not None]
    if teff:
        report["test"]["paper_t_eff_x_shots"] = _errors(np.asarray([r.t_eff_s * r.shots for r in teff]),
                                                        np.asarray([r.observed_s for r in teff]))
    return report
