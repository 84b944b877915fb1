"""Cost one OpenQASM 2/3 circuit on a backend's calibration snapshot (COST_MODEL.md sections A and B)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from benchmarks_app import selectors
from cost_engine.errors import CostEngineError
from hanas_platform.api import InputError

TABLE = [("backend", "backend", ""), ("snapshot_calibrated_at", "snapshot calibrated at", ""),
         ("num_qubits", "logical qubits", ""), ("physical_qubits", "physical qubits", ""),
         ("n_1q", "1q gates", ""), ("n_2q", "2q gates (routed)", ""), ("n_2q_logical", "2q gates (logical)", ""),
         ("n_swaps", "SWAPs inserted", ""), ("n_meas", "measurements", ""), ("depth", "depth", ""),
         ("depth_2q", "2q depth", ""), ("t_gate_serial_s", "T_gate (serial sum)", "s"),
         ("t_sched_s", "T_sched (critical path)", "s"), ("log_p_keep", "log P_keep", ""), ("log_esp", "log ESP", ""),
         ("t2_eff_s", "T2_eff", "s"), ("p_decoh", "p_decoh", ""), ("log_t_eff", "log T_eff", ""),
         ("t_eff_s", "T_eff (per successful shot)", "s"), ("zero_survival", "zero survival", ""),
         ("rep_delay_s", "rep_delay", "s"), ("t_shot_s", "T_shot", "s"), ("shots", "shots", ""),
         ("shots_total", "shots needed (S / P_success)", ""), ("n_circuits", "circuits in the job", ""),
         ("wallclock_s", "wall-clock (job)", "s"), ("wallclock_interval_s", "wall-clock prediction interval", "s"),
         ("profile_ref", "execution profile", ""), ("model_version", "model", "")]


class Command(BaseCommand):
    help = "Estimate a circuit's cost on a backend: the paper's analytical model plus wall-clock time."

    def add_arguments(self, parser):
        parser.add_argument("path", help="OpenQASM 2 or 3 file")
        parser.add_argument("--backend", required=True)
        parser.add_argument("--snapshot", default="latest", help="latest | id | ISO date-time (newest at or before it) | ISO date: that whole day in "
                                 "UTC (the day's latest snapshot, else the newest before it)")
        parser.add_argument("--shots", type=int, default=1024)
        parser.add_argument("--optimization-level", type=int, default=1)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--layout", choices=("calibrated", "structure", "qiskit"), default="calibrated",
                            help="calibrated (default): routed per device structure, placed on this snapshot's best "
                                 "qubits; structure: errors ignored; qiskit: preset pass manager on the calibrated "
                                 "target, compiled per snapshot")
        parser.add_argument("--noise-aware-layout", action="store_const", const="qiskit", dest="layout",
                            help="same as --layout qiskit (kept for older scripts)")
        parser.add_argument("--t2-variant", choices=("min", "mean"), default="min",
                            help="T2_eff over the used qubits: min (default) or mean")
        parser.add_argument("--rep-delay-s", type=float, default=None,
                            help="repetition delay in seconds (default: the snapshot's default_rep_delay)")
        parser.add_argument("--no-reset", action="store_false", dest="include_reset",
                            help="leave the reset duration out of T_shot")
        parser.add_argument("--include-broken", action="store_false", dest="exclude_broken",
                            help="route through broken or non-operational couplers and qubits too")
        parser.add_argument("--profile", help="execution profile NAME or NAME@vN for wall-clock (default: the "
                                                  "built-in IBM-documented ibm-default)")
        parser.add_argument("--n-circuits", type=int, default=1,
                            help="circuit executions in one job (e.g. a parameter-shift batch)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")

    def handle(self, *args, path, backend, snapshot, shots, optimization_level, seed, layout, as_json,
               profile=None, n_circuits=1, t2_variant="min", rep_delay_s=None, include_reset=True,
               exclude_broken=True, **options):
        from benchmarks_app import services
        from cost_engine.quantum import CostOptions, estimate_quantum_cost

        try:
            with open(path) as fh:
                text = fh.read()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        try:
            calibration = self._calibration(backend, snapshot)
            options = CostOptions(shots=shots, optimization_level=optimization_level, seed=seed, layout=layout,
                                  t2_variant=t2_variant, rep_delay_s=rep_delay_s, include_reset=include_reset,
                                  exclude_broken=exclude_broken).validate()
            report = estimate_quantum_cost(text, calibration, options, cache=services.compile_cache())
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        except CostEngineError as exc:
            raise CommandError(f"{exc.field or 'input'}: {exc}") from exc
        data = report.to_dict()
        try:
            self._apply_profile(data, backend, profile, n_circuits)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(data))
            return
        data["profile_ref"] = data["execution_profile"]["ref"]
        for key, label, unit in TABLE:
            value = data[key]
            if isinstance(value, float):
                value = f"{value:.6g}"
            elif key == "wallclock_interval_s" and value:
                value = f"[{value[0]:.6g}, {value[1]:.6g}]"
            elif isinstance(value, list) and len(value) > 12:
                value = f"{value[:12]} ... ({len(value)})"
            self.stdout.write(f"{label:<32} {value}{' ' + unit if unit and value is not None else ''}")
        for note in data.get("notes") or []:
            self.stdout.write(self.style.WARNING(f"note: {note}"))

    def _apply_profile(self, data, backend, ref, n_circuits):
        """Wall-clock under the named execution profile (stored in profiles_app), from the report's terms."""
        from profiles_app import selectors as profile_selectors

        if n_circuits < 1:
            raise InputError("--n-circuits must be >= 1", field="n_circuits")
        try:
            backend_row = selectors.backend_get(backend)
        except InputError:
            backend_row = None
        row, engine, notes = profile_selectors.resolve(None, ref, backend_row, everyone=True)
        data["wallclock_s"], data["wallclock_interval_s"] = profile_selectors.wallclock(engine, data,
                                                                                        n_circuits=n_circuits)
        data["n_circuits"] = n_circuits
        data["execution_profile"] = profile_selectors.describe(row, engine, notes)
        data["notes"] = list(data.get("notes") or []) + list(notes)

    def _calibration(self, backend, snapshot):
        """The stored snapshot; before anything is ingested, a bundled device's own snapshot (latest only)."""
        snap, bundled = selectors.snapshot_or_bundled(backend, snapshot)
        return bundled if snap is None else snap.calibration()
