"""Fitting an execution profile (cost_engine.execution) to observed job times.

The target is observed - sum(S T_shot) (the shots' own time is physics, kept with coefficient 1). Candidate
overhead terms (cost_engine.execution.TERMS) are chosen by forward selection on K-fold cross-validated mean
absolute error over the TRAINING split only: a term enters when it lowers the CV error by at least ``min_gain``
(relative). Coefficients are non-negative least squares (scikit-learn LinearRegression(positive=True), columns
scaled), or least absolute deviations when that has the lower cross-validated MAE. The held-out TEST split reports MAE, median relative error and R^2 for the fit, the documented default
profile and the paper's raw T_eff x S; the prediction interval comes from the out-of-fold residuals of the
chosen model on the training split, and its coverage on the test split is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from .errors import ConfigError
from .execution import DEFAULT_PROFILE, TERMS, CircuitTerms, ExecutionProfile, job_features

INTERVAL_LEVEL = 0.9


@dataclass(frozen=True)
class Observation:
    """One observed job: its circuits (compiled terms) and the observed seconds."""
    circuits: tuple[CircuitTerms, ...]
    observed_s: float
    label: str = ""

    @classmethod
    def single(cls, t_shot_s: float, shots: int, n_instructions: int, observed_s: float,
               t_eff_s: float | None = None, **terms) -> "Observation":
        return cls((CircuitTerms(t_shot_s=t_shot_s, shots=shots, n_instructions=n_instructions, t_eff_s=t_eff_s,
                                 **terms),), observed_s)

    def paper_prediction(self) -> float | None:
        """The paper's raw T_eff x S summed over the job's circuits (None when a T_eff is unknown)."""
        if any(c.t_eff_s is None for c in self.circuits):
            return None
        return math.fsum(c.count * c.shots * c.t_eff_s for c in self.circuits)


def metrics(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    """MAE, median relative error and R^2 (1 - SS_res / SS_tot; None with a constant target)."""
    from sklearn.metrics import mean_absolute_error, r2_score

    pred, obs = np.asarray(pred, float), np.asarray(obs, float)
    out = {"mae_s": float(mean_absolute_error(obs, pred)),
           "median_rel_error": float(np.median(np.abs(pred - obs) / np.abs(obs))), "n": int(len(obs))}
    out["r2"] = float(r2_score(obs, pred)) if len(obs) > 1 and np.ptp(obs) > 0 else None
    return out


@dataclass
class _Design:
    X: np.ndarray  # n x len(TERMS)
    offset: np.ndarray  # sum S T_shot per job
    y: np.ndarray  # observed seconds
    terms: list[str] = field(default_factory=lambda: list(TERMS))


def _design(rows: list[Observation]) -> _Design:
    X, off = [], []
    for r in rows:
        feats, shot_time = job_features(r.circuits)
        X.append([feats[t] for t in TERMS])
        off.append(shot_time)
    return _Design(np.asarray(X, float), np.asarray(off, float), np.asarray([r.observed_s for r in rows], float))


LOSSES = ("least_squares", "least_absolute")


def _fit(X: np.ndarray, y: np.ndarray, loss: str = "least_squares") -> np.ndarray:
    """Non-negative coefficients of y on the columns of X (scaled to unit max for conditioning), by scikit-learn
    LinearRegression(positive=True): least squares, or least absolute deviations by iteratively reweighted
    least squares (weights 1/|residual|): the fit of the mean absolute error the report is judged on, robust to
    a few outlying jobs (a job held behind a calibration, a slow result upload)."""
    from sklearn.linear_model import LinearRegression

    if X.shape[1] == 0:
        return np.zeros(0)
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    model = LinearRegression(positive=True, fit_intercept=False).fit(Xs, y)
    if loss == "least_absolute":
        floor = 1e-3 * max(float(np.median(np.abs(y))), 1e-9)
        coef = model.coef_
        for _ in range(15):
            weights = 1.0 / np.maximum(np.abs(y - Xs @ coef), floor)
            new = LinearRegression(positive=True, fit_intercept=False).fit(Xs, y, sample_weight=weights).coef_
            if np.allclose(new, coef, rtol=1e-4, atol=1e-12):
                coef = new
                break
            coef = new
        return coef / scale
    return model.coef_ / scale


def _cv(X: np.ndarray, y: np.ndarray, cols: list[int], folds, loss: str = "least_squares"
        ) -> tuple[float, np.ndarray]:
    """(mean absolute out-of-fold error, out-of-fold residuals observed - predicted) of a column subset."""
    resid = np.empty(len(y))
    for fit_idx, held_idx in folds:
        coef = _fit(X[np.ix_(fit_idx, cols)], y[fit_idx], loss) if cols else np.zeros(0)
        resid[held_idx] = y[held_idx] - (X[np.ix_(held_idx, cols)] @ coef if cols else 0.0)
    return float(np.mean(np.abs(resid))), resid


def select_terms(X: np.ndarray, y: np.ndarray, candidates: list[int], folds, min_gain: float,
                 loss: str = "least_squares"):
    """Forward selection by cross-validated MAE. Returns (chosen columns, trace, out-of-fold residuals)."""
    chosen: list[int] = []
    best, resid = _cv(X, y, chosen, folds, loss)
    trace = [{"step": 0, "terms": [], "cv_mae_s": best}]
    remaining = list(candidates)
    while remaining:
        trials = {c: _cv(X, y, chosen + [c], folds, loss) for c in remaining}
        lowest_k = min(trials, key=lambda k: trials[k][0])
        lowest, lowest_resid = trials[lowest_k]
        # near-ties (within half a standard error of the lowest CV error, the one-standard-error idea) go to the
        # term listed first in TERMS: the documented terms (job, circuit, instruction) before structural ones
        se = float(np.std(np.abs(lowest_resid)) / np.sqrt(len(lowest_resid)))
        c = min(k for k in trials if trials[k][0] <= lowest + max(0.5 * se, 0.1 * min_gain * best))
        gain = (best - trials[c][0]) / best if best > 0 else 0.0
        trace.append({"step": len(chosen) + 1, "tried": {TERMS_LIST[k]: v[0] for k, v in trials.items()},
                      "best": TERMS_LIST[c], "cv_mae_s": trials[c][0], "relative_gain": gain,
                      "accepted": gain >= min_gain})
        if gain < min_gain:
            break
        chosen.append(c)
        best, resid = trials[c]
        remaining.remove(c)
    return chosen, trace, resid


TERMS_LIST = list(TERMS)


def fit_profile(rows: Iterable[Observation], name: str = "fitted", version: int = 1, test_fraction: float = 0.3,
                seed: int = 0, fitted_on: str | None = None, terms: Iterable[str] | None = None,
                min_gain: float = 0.02, folds: int = 5, group_by_circuit: bool = True) -> dict[str, Any]:
    """Fit a profile; returns the fit report (the profile itself under "profile"). With ``group_by_circuit``
    (and at least 10 distinct circuits) the jobs of one circuit (say, at several shot counts) stay together in
    the train/test split and in the cross-validation folds, so the errors are those of circuits the fit has
    not seen."""
    from sklearn.model_selection import GroupKFold, GroupShuffleSplit, KFold, train_test_split

    rows = list(rows)
    if len(rows) < 8:
        raise ConfigError(f"need at least 8 observed jobs to fit and test, got {len(rows)}", field="observations")
    if not 0.1 <= test_fraction <= 0.9:
        raise ConfigError("test_fraction must be in [0.1, 0.9]", field="test_fraction")
    candidates = list(terms) if terms is not None else list(TERMS)
    unknown = sorted(set(candidates) - set(TERMS))
    if unknown:
        raise ConfigError(f"unknown term(s) {unknown}; known: {list(TERMS)}", field="terms")
    bad = [i for i, r in enumerate(rows) if not (r.observed_s > 0 and math.isfinite(r.observed_s))]
    if bad:
        raise ConfigError(f"observed seconds must be positive (job {bad[0] + 1})", field="observed_seconds")
    idx = np.arange(len(rows))
    groups = np.asarray([hash(tuple(c.structure() for c in r.circuits)) for r in rows])
    grouped = group_by_circuit and len(set(groups.tolist())) >= 10
    if grouped:
        train_idx, test_idx = next(GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
                                   .split(idx, groups=groups))
    else:
        train_idx, test_idx = train_test_split(idx, test_size=test_fraction, random_state=seed)
    d = _design(rows)
    Xtr, ytr = d.X[train_idx], d.y[train_idx] - d.offset[train_idx]
    # a term constant over the training jobs (other than "job") or equal to an earlier one is not identifiable
    cols, not_identifiable = [], {}
    for t in candidates:
        j = TERMS_LIST.index(t)
        col = Xtr[:, j]
        if t != "job" and np.ptp(col) == 0:
            not_identifiable[t] = "constant over the training jobs (absorbed by the per-job term)"
            continue
        twin = next((TERMS_LIST[k] for k in cols if np.allclose(Xtr[:, k], col)), None)
        if twin:
            not_identifiable[t] = f"identical to the {twin} term in this data"
            continue
        cols.append(j)
    train_groups = groups[train_idx]
    if grouped and len(set(train_groups.tolist())) >= 4:
        n_folds = max(2, min(folds, len(set(train_groups.tolist())) // 2))
        split = list(GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(Xtr, groups=train_groups))
    else:
        grouped = False if grouped and len(set(train_groups.tolist())) < 4 else grouped
        n_folds = max(2, min(folds, len(train_idx) // 2))
        split = list(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(Xtr))
    # the loss, like the terms, is chosen by cross-validated MAE on the training split: least absolute
    # deviations only when it beats least squares by the same margin a term must
    runs = {loss: select_terms(Xtr, ytr, cols, split, min_gain, loss) for loss in LOSSES}
    cv_by_loss = {loss: float(np.mean(np.abs(r[2]))) for loss, r in runs.items()}
    loss = "least_squares"
    if cv_by_loss["least_absolute"] < (1 - min_gain) * cv_by_loss["least_squares"]:
        loss = "least_absolute"
    chosen, trace, oof_resid = runs[loss]
    coef = _fit(Xtr[:, chosen], ytr, loss) if chosen else np.zeros(0)
    values = {TERMS[TERMS_LIST[j]][0]: float(c) for j, c in zip(chosen, coef)}
    alpha = (1 - INTERVAL_LEVEL) / 2
    lo, hi = (float(np.quantile(oof_resid, alpha)), float(np.quantile(oof_resid, 1 - alpha)))
    zero = {f: 0.0 for f, _ in TERMS.values()}
    fitted = ExecutionProfile(
        name=name, version=version, **{**zero, **values},
        source=(f"fitted by non-negative {loss.replace('_', ' ')} on {len(train_idx)} observed jobs; terms chosen by "
                f"{n_folds}-fold cross-validated MAE: {', '.join(TERMS_LIST[j] for j in chosen) or 'none'}"),
        fitted_on=fitted_on, n_samples=len(train_idx), interval_lo_s=lo, interval_hi_s=hi,
        interval_level=INTERVAL_LEVEL).validate()
    test_rows = [rows[i] for i in test_idx]
    obs = d.y[test_idx]
    pred_fit = np.asarray([fitted.predict_job(r.circuits) for r in test_rows])
    test = {"fitted": metrics(pred_fit, obs),
            "default": metrics([DEFAULT_PROFILE.predict_job(r.circuits) for r in test_rows], obs)}
    paper = [(r.paper_prediction(), r.observed_s) for r in test_rows if r.paper_prediction() is not None]
    if paper:
        test["paper_t_eff_x_shots"] = metrics([p for p, _ in paper], [o for _, o in paper])
    inside = np.mean([(p + lo) <= o <= (p + hi) for p, o in zip(pred_fit, obs)])
    train_pred = np.asarray([fitted.predict_job(rows[i].circuits) for i in train_idx])
    return {"profile": fitted.to_dict(), "n_train": int(len(train_idx)), "n_test": int(len(test_idx)),
            "seed": seed, "test_fraction": test_fraction, "terms": [TERMS_LIST[j] for j in chosen],
            "candidate_terms": candidates, "not_identifiable": not_identifiable, "selection": trace,
            "cv_folds": n_folds, "split": "grouped by circuit" if grouped else "random", "min_gain": min_gain, "loss": loss, "cv_mae_by_loss_s": cv_by_loss, "train": metrics(train_pred, d.y[train_idx]), "test": test,
            "prediction_interval": {"level": INTERVAL_LEVEL, "lo_s": lo, "hi_s": hi,
                                    "from": "out-of-fold residuals of the chosen model on the training split",
                                    "test_coverage": float(inside)}}


def with_identity(report: dict, name: str, version: int) -> dict:
    """The report with its profile renamed/re-versioned (the store assigns the version)."""
    prof = ExecutionProfile.from_dict(report["profile"])
    return {**report, "profile": replace(prof, name=name, version=version).to_dict()}
