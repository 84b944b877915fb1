"""Run a Hyb-HANAS search: ``manage.py run_search CONFIG.json`` or ``manage.py run_search --default``."""
from __future__ import annotations

import json
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from hanas_platform.api import InputError

# The README's default small search: digits, 2 to 6 qubits, population 12, 5 generations, 3 epochs.
DEFAULT_CONFIG = {
    "dataset": "digits",
    "backend": "ibm_sherbrooke",
    "space": {"min_qubits": 2, "max_qubits": 6},
    "population": 12,
    "generations": 5,
    "epochs": 3,
    "seed": 0,
}


class Command(BaseCommand):
    help = "Run a Hyb-HANAS NSGA-II search (eagerly in-process on the embedded default, else on the workers)."

    def add_arguments(self, parser):
        parser.add_argument("config", nargs="?", help="search config JSON file")
        parser.add_argument("--default", action="store_true", help="the default small search on digits")
        parser.add_argument("--backend", help="override the config's backend")
        parser.add_argument("--owner", default="hanas", help="username owning the run (created if missing)")
        parser.add_argument("--visibility", default="public", choices=["private", "team", "public"])
        parser.add_argument("--name", default="")
        parser.add_argument("--json", action="store_true", help="print the final front as JSON")
        parser.add_argument("--reuse", action="store_true",
                            help="if an identical run (same config, snapshot and cost model) of this owner and "
                                 "visibility already succeeded, show it instead of starting a new one")

    def handle(self, *args, config=None, default=False, backend=None, owner="hanas", visibility="public",
               name="", json=False, reuse=False, **options):
        from search_app import selectors, services

        if bool(config) == bool(default):
            raise CommandError("give a CONFIG.json path or --default (not both)")
        cfg = dict(DEFAULT_CONFIG) if default else _read_config(config)
        if backend:
            cfg["backend"] = backend
        user, _ = get_user_model().objects.get_or_create(username=owner)
        if settings.CELERY_TASK_ALWAYS_EAGER:
            _limit_torch_threads()
        bar = _ProgressBar(self.stdout, cfg)
        services.PROGRESS_LISTENERS.append(bar)
        started = time.perf_counter()
        try:
            run = services.search_create(owner=user, config=cfg, name=name, visibility=visibility, start=False,
                                         reuse=reuse)
            if run.reused:
                self.stdout.write(f"re-using search {run.pk}: an identical run finished at "
                                  f"{run.finished_at:%Y-%m-%d %H:%M} UTC (no new run started)")
            else:
                services.search_dispatch(run.pk)  # eager (embedded default): runs the whole search here
            if not run.reused and not settings.CELERY_TASK_ALWAYS_EAGER:
                self.stdout.write(f"search {run.pk} queued on the Celery workers; waiting (Ctrl-C leaves it running)")
                run = services.wait_for(run.pk)
            run.refresh_from_db()
        except InputError as exc:
            raise CommandError(f"{exc.field}: {exc}" if exc.field else str(exc)) from exc
        finally:
            services.PROGRESS_LISTENERS.remove(bar)
        bar.close()
        elapsed = time.perf_counter() - started
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"search {run.pk} ended {run.status}: {run.error}")
        front = list(selectors.front(run))
        if json:
            import json as _json

            self.stdout.write(_json.dumps({"run": run.pk, "seconds": elapsed, "hypervolume": run.hypervolume,
                                           "front": [_row(c) for c in front]}, indent=2))
            return
        self.stdout.write(f"search {run.pk}: {run.candidates_evaluated} candidates evaluated in {elapsed:.1f} s on "
                          f"{run.backend_name} (snapshot {run.snapshot_calibrated_at:%Y-%m-%d %H:%M} UTC)")
        self.stdout.write("hypervolume per generation: " + ", ".join(f"{h:.4f}" for h in run.hypervolume))
        self.stdout.write(format_front(front))


def _limit_torch_threads() -> None:
    """Eager mode runs the evaluations in this process: give torch the worker pool's thread count
    (HANAS_WORKER_TORCH_THREADS, default 1). Tiny HQNN layers gain nothing from more threads, and on a shared
    2-core machine torch's default of one thread per core made a training step up to ~10x slower (measured on
    this machine under load: 6.1 s against 0.5 s for one candidate's training)."""
    import torch

    torch.set_num_threads(max(1, int(settings.HANAS_WORKER_TORCH_THREADS)))


def _read_config(path: str) -> dict:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"{path} must hold a JSON object")
    return data


def _row(c) -> dict:
    g = c.genome
    return {"generation": c.generation, "accuracy": c.accuracy, "c_total_s": c.c_total_s,
            "c_q_wallclock_s": c.c_q_wallclock_s, "c_c_s": c.c_c_s, "params_total": c.params_total,
            "params_classical": c.params_classical, "params_quantum": c.params_quantum, "genome": g}


def format_front(front) -> str:
    head = f"{'acc':>6} {'C_total [s]':>12} {'C_Q [s]':>12} {'C_C [s]':>10} {'params':>7} (cl/q)  architecture"
    lines = [f"Pareto front ({len(front)} architectures):", head, "-" * len(head)]
    for c in front:
        g = c.genome
        arch = (f"{g['n_qubits']}q x{g['n_layers']} {g['encoding']} {'/'.join(g['rotations'])} "
                f"{g['entangler']}-{g['entangler_gate']} pre={list(g['pre_widths'])} head={g['head']}")
        lines.append(f"{c.accuracy:6.3f} {_num(c.c_total_s):>12} {_num(c.c_q_wallclock_s):>12} {_num(c.c_c_s):>10} "
                     f"{c.params_total:7d} ({c.params_classical}/{c.params_quantum})  {arch}")
    return "\n".join(lines)


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


class _ProgressBar:
    def __init__(self, out, cfg):
        self.out = out
        self.total = int(cfg.get("population", 12)) * int(cfg.get("generations", 5))
        self.last = ""
        self.tty = sys.stdout.isatty()

    def __call__(self, run, event):
        done = run.candidates_evaluated
        width = 30
        frac = min(done / self.total, 1.0) if self.total else 0.0
        line = (f"[{'#' * int(frac * width):<{width}}] generation {min(run.generation + (event != 'finished'), run.generations_total)}"
                f"/{run.generations_total}, {done} candidates evaluated")
        if line != self.last:
            self.last = line
            if self.tty:
                self.out.write("\r" + line, ending="")
                self.out.flush()
            else:
                self.out.write(line)

    def close(self):
        if self.tty:
            self.out.write("")
