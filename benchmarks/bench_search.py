"""The default Hyb-HANAS search (digits, 2-6 qubits, population 12, 5 generations, 3 epochs) on an Eagle and a
Heron snapshot: wall time, the fronts, the rank correlation between the FLOPs-only cost and the calibrated
C_total, and how the fronts' classical/quantum make-up differs. Writes benchmarks/results/search.md."""
from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from cost_engine.calibration import load_fake_calibration  # noqa: E402
from cost_engine.search import SearchConfig, pareto_ranks, run_local  # noqa: E402

DEVICES = [("sherbrooke", "Eagle r3, 127 q, ECR"), ("torino", "Heron r1, 133 q, CZ")]
CONFIG = {"dataset": "digits", "space": {"min_qubits": 2, "max_qubits": 6}, "population": 12, "generations": 5,
          "epochs": 3, "seed": 0}


def describe(front):
    q = Counter(e.genome["n_qubits"] for e in front)
    pre = Counter(len(e.genome["pre_widths"]) and sum(e.genome["pre_widths"]) for e in front)
    ent = Counter(e.genome["entangler"] for e in front)
    enc = Counter(e.genome["encoding"] for e in front)
    return {"size": len(front), "qubits": dict(sorted(q.items())), "pre_width_sum": dict(sorted(pre.items())),
            "entangler": dict(ent), "encoding": dict(enc),
            "mean_params_classical": statistics.mean(e.params_classical for e in front),
            "mean_params_quantum": statistics.mean(e.params_quantum for e in front),
            "best_accuracy": max(e.accuracy for e in front),
            "cheapest_c_total_s": min(e.cost["c_total_s"] for e in front)}


def main():
    cfg = SearchConfig.from_dict(CONFIG)
    lines = ["# Hyb-HANAS default search", "",
             f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; config {CONFIG}; "
             "in-process (cost_engine.search.run_local), the same loop the Celery tasks run.", ""]
    for short, label in DEVICES:
        cal = load_fake_calibration(short)
        started = time.perf_counter()
        evals, hv = run_local(cfg, cal)
        seconds = time.perf_counter() - started
        ev = list(evals.values())
        ok = [e for e in ev if e.G <= 0]
        F = np.array([e.F for e in ok])
        ranks = pareto_ranks(F, np.ones(len(ok), dtype=bool))
        front = sorted([e for e, r in zip(ok, ranks) if r == 0], key=lambda e: e.cost["c_total_s"])
        rho = spearmanr([e.cost["flops_only_total"] for e in ok], [e.cost["c_total_s"] for e in ok])[0]
        rho_q = spearmanr([e.cost["flops_only_total"] for e in ok], [e.cost["c_q_wallclock_s"] for e in ok])[0]
        d = describe(front)
        lines += [f"## {cal.backend_name} ({label}), snapshot {cal.calibrated_at:%Y-%m-%d}", "",
                  f"- wall time {seconds:.1f} s for {len(ev)} distinct candidates ({len(ev) - len(ok)} unrunnable); "
                  f"hypervolume per generation {', '.join(f'{h:.4f}' for h in hv)}",
                  f"- Spearman(FLOPs-only cost, calibrated C_total) = {rho:.3f} over {len(ok)} candidates "
                  f"(vs C_Q alone: {rho_q:.3f})",
                  f"- front: {d['size']} architectures; qubits {d['qubits']}; classical pre-width sum "
                  f"{d['pre_width_sum']}; entanglers {d['entangler']}; encodings {d['encoding']}; mean params "
                  f"classical {d['mean_params_classical']:.0f} / quantum {d['mean_params_quantum']:.0f}", "",
                  "| accuracy | C_total [s] | C_Q [s] | C_C [s] | FLOPs-only | params (cl/q) | architecture |",
                  "|---|---|---|---|---|---|---|"]
        for e in front:
            g = e.genome
            arch = (f"{g['n_qubits']}q x{g['n_layers']} {g['encoding']} {'/'.join(g['rotations'])} "
                    f"{g['entangler']}-{g['entangler_gate']} pre={g['pre_widths']} head={g['head']}")
            lines.append(f"| {e.accuracy:.3f} | {e.cost['c_total_s']:.4g} | {e.cost['c_q_wallclock_s']:.4g} | "
                         f"{e.cost['c_c_s']:.3g} | {e.cost['flops_only_total']:.3g} | {e.params_total} "
                         f"({e.params_classical}/{e.params_quantum}) | {arch} |")
        lines.append("")
    out = ROOT / "benchmarks" / "results" / "search.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
