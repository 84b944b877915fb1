"""Training throughput of an 8-qubit, 3-layer HQNN at batch 64: our torch statevector layer against PennyLane's
default.qubit through qml.qnn.TorchLayer on the same architecture. PennyLane lives only in this benchmark's own
venv (benchmarks/.venv-pennylane, created here: torch==2.13.0 first, then pennylane==0.45.1); each
implementation runs in its own process, which reports samples/s and its peak RSS.
Writes benchmarks/results/hqnn_throughput.md."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PL_VENV = ROOT / "benchmarks" / ".venv-pennylane"
THREADS = int(os.environ.get("BENCH_TORCH_THREADS", "2"))

# Shared by both workers: same layers, same data, same optimiser, same timing loop.
COMMON = r'''
import json, math, resource, sys, time
import torch
torch.manual_seed(0)
torch.set_num_threads(THREADS)
N_QUBITS, N_LAYERS, BATCH, FEATURES, CLASSES = 8, 3, 64, 16, 10
x = torch.randn(BATCH, FEATURES)
y = torch.randint(0, CLASSES, (BATCH,))

def run(model, label, seconds=6.0, warmup=3):
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    for _ in range(warmup):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 5:
        step()
        n += 1
    dt = time.perf_counter() - t0
    print(json.dumps({"impl": label, "steps": n, "samples_per_s": n * BATCH / dt, "ms_per_batch": 1e3 * dt / n,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))
'''

OURS = COMMON + r'''
sys.path.insert(0, ROOT)
from cost_engine.hqnn import Genome, build_model
g = Genome(n_qubits=8, n_layers=3, encoding="angle_y", rotations=("ry", "rz"), entangler="ring",
           entangler_gate="cx", pre_widths=(), head="linear")
run(build_model(g, FEATURES, CLASSES, seed=0), "ours (torch statevector, cost_engine.hqnn)")
'''

PENNYLANE = COMMON + r'''
import pennylane as qml
from torch import nn
DIFF = sys.argv[1]
dev = qml.device("default.qubit", wires=N_QUBITS)

@qml.qnode(dev, interface="torch", diff_method=DIFF)
def circuit(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(N_QUBITS), rotation="Y")
    for l in range(N_LAYERS):
        for q in range(N_QUBITS):
            qml.RY(weights[l, 0, q], wires=q)
            qml.RZ(weights[l, 1, q], wires=q)
        for q in range(N_QUBITS):
            qml.CNOT(wires=[q, (q + 1) % N_QUBITS])
    return [qml.expval(qml.PauliZ(q)) for q in range(N_QUBITS)]

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(FEATURES, N_QUBITS)
        self.q = qml.qnn.TorchLayer(circuit, {"weights": (N_LAYERS, 2, N_QUBITS)})
        self.head = nn.Linear(N_QUBITS, CLASSES)
    def forward(self, x):
        return self.head(self.q(torch.tanh(self.pre(x)) * math.pi))

run(Net(), f"PennyLane {qml.__version__} default.qubit, TorchLayer, diff_method={DIFF}")
'''


def ensure_pennylane() -> Path:
    py = PL_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PL_VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import pennylane, torch; print(torch.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["torch==2.13.0"], check=True)  # the local CPU wheel first: never pull CUDA
        subprocess.run(pip + ["pennylane==0.45.1"], check=True)
    return py


def worker(python: Path, code: str, *args: str) -> dict:
    src = code.replace("THREADS", str(THREADS)).replace("ROOT", repr(str(ROOT)))
    out = subprocess.run([str(python), "-c", src, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def median_run(runs: list[dict]) -> dict:
    runs = sorted(runs, key=lambda r: r["samples_per_s"])
    best = dict(runs[len(runs) // 2])
    best["all_samples_per_s"] = [round(r["samples_per_s"]) for r in runs]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def main():
    pl = ensure_pennylane()
    ours_runs, pl_runs = [], []
    for _ in range(REPEATS):  # alternate, so drifting machine load hits both alike
        ours_runs.append(worker(Path(sys.executable), OURS))
        pl_runs.append(worker(pl, PENNYLANE, "backprop"))
    ours, best_pl = median_run(ours_runs), median_run(pl_runs)
    rows = [ours, best_pl]
    try:
        rows.append(worker(pl, PENNYLANE, "adjoint"))
    except RuntimeError as exc:
        rows.append({"impl": "PennyLane diff_method=adjoint", "error": str(exc).strip().splitlines()[-1]})
    ratio = ours["samples_per_s"] / best_pl["samples_per_s"]
    ratios = sorted(o["samples_per_s"] / p["samples_per_s"] for o, p in zip(ours_runs, pl_runs))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = ["# HQNN training throughput", "",
             f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({cpu}); torch "
             f"{ours['torch']} with {THREADS} threads in every process.", "",
             "8 qubits, 3 layers (RY+RZ on every qubit, CX ring), RY angle encoding, Linear(16->8) before and "
             "Linear(8->10) after; batch 64; one step = forward + backward + Adam; 3 warm-up steps, then at least "
             f"6 s of steps; ours and PennyLane backprop alternate {REPEATS} times, the table shows the median run "
             "(all runs in brackets); adjoint once. Peak RSS is the whole worker process (Python, torch, the "
             "library).", "",
             "| implementation | samples/s | ms per batch | peak RSS [MB] |", "|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['impl']} | failed: {r['error'][:120]} | | |")
        else:
            runs = f" {r['all_samples_per_s']}" if "all_samples_per_s" in r else ""
            lines.append(f"| {r['impl']} | {r['samples_per_s']:.0f}{runs} | {r['ms_per_batch']:.2f} | "
                         f"{r['peak_rss_mb']:.0f} |")
    lines += ["", f"Ours / PennyLane (backprop, the faster PennyLane method), median runs: **{ratio:.1f}x** "
                  f"(target >= 10x: {'PASS' if ratio >= 10 else 'MISS'}); per alternating pair: "
                  f"{', '.join(f'{x:.1f}x' for x in ratios)}."]
    out = ROOT / "benchmarks" / "results" / "hqnn_throughput.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
