"""Fit the wall-clock execution profile (COST_MODEL.md B) to a user's own log of IBM job times."""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks_app import selectors, services
from cost_engine.errors import CostEngineError
from hanas_platform.api import InputError


def profile_dir() -> Path:
    return Path(getattr(settings, "VAR_DIR", "var")) / "execution_profiles"


def next_version(name: str) -> int:
    folder = profile_dir()
    versions = [int(p.stem.rsplit("-v", 1)[1]) for p in folder.glob(f"{name}-v*.json")
                if p.stem.rsplit("-v", 1)[1].isdigit()] if folder.exists() else []
    return max(versions, default=0) + 1


class Command(BaseCommand):
    help = ("Fit c_job (and c_instruction when the data supports it) from OBSERVED.csv with columns qasm_path, "
            "backend, shots, observed_seconds; store it as a new versioned profile and report held-out errors.")

    def add_arguments(self, parser):
        parser.add_argument("csv_path")
        parser.add_argument("--name", default="fitted")
        parser.add_argument("--test-fraction", type=float, default=0.3)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, csv_path, name, test_fraction, seed, as_json, **options):
        from cost_engine.execution import Observation, fit_profile
        from cost_engine.quantum import CostOptions, estimate_quantum_cost

        rows = self._read(csv_path)
        base = os.path.dirname(os.path.abspath(csv_path))
        obs = []
        for i, row in enumerate(rows, 2):
            path = row["qasm_path"] if os.path.isabs(row["qasm_path"]) else os.path.join(base, row["qasm_path"])
            try:
                with open(path) as fh:
                    text = fh.read()
                shots = int(row["shots"])
                observed = float(row["observed_seconds"])
                snap = selectors.snapshot_for(row["backend"], row.get("snapshot") or "latest")
                rep = estimate_quantum_cost(text, snap.calibration(), CostOptions(shots=shots),
                                            cache=services.compile_cache())
            except (OSError, ValueError, KeyError, InputError, CostEngineError) as exc:
                raise CommandError(f"{csv_path} line {i}: {exc}") from exc
            obs.append(Observation(t_shot_s=rep.t_shot_s, shots=shots, n_instructions=rep.n_instructions,
                                   observed_s=observed, t_eff_s=rep.t_eff_s))
        version = next_version(name)
        try:
            report = fit_profile(obs, name=name, version=version, test_fraction=test_fraction, seed=seed,
                                 fitted_on=f"{os.path.basename(csv_path)} @ {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%MZ}")
        except CostEngineError as exc:
            raise CommandError(str(exc)) from exc
        folder = profile_dir()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{name}-v{version}.json"
        out.write_text(json.dumps(report, indent=2))
        report["stored_at"] = str(out)
        if as_json:
            self.stdout.write(json.dumps(report))
            return
        p = report["profile"]
        self.stdout.write(f"profile {name} v{version}: c_job = {p['c_job_s']:.4g} s, c_instruction = "
                          f"{p['c_instruction_s']:.4g} s (per-instruction term "
                          f"{'used' if report['per_instruction_term'] else 'not supported by the data'})")
        self.stdout.write(f"train {report['n_train']} jobs, test {report['n_test']} jobs; on the test split:")
        self.stdout.write(f"  {'predictor':<28} {'MAE [s]':>10} {'median rel. error':>18}")
        for label, key in (("fitted profile", "fitted"), ("default (IBM docs)", "default"),
                           ("paper T_eff x shots", "paper_t_eff_x_shots")):
            if key in report["test"]:
                e = report["test"][key]
                self.stdout.write(f"  {label:<28} {e['mae_s']:>10.4g} {e['median_rel_error']:>18.3%}")
        self.stdout.write(f"stored {out}")

    def _read(self, path):
        try:
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        need = {"qasm_path", "backend", "shots", "observed_seconds"}
        if not rows or not need <= set(rows[0]):
            raise CommandError(f"{path} needs a header with columns {sorted(need)}")
        return rows
