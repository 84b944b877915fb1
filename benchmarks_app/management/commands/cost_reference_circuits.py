"""Cost the reference suite on the latest snapshot of each backend (stored estimates are re-used)."""
import time

from django.core.management.base import BaseCommand, CommandError

from benchmarks_app import selectors, services
from benchmarks_app.models import Backend, CalibrationSnapshot, Circuit


class Command(BaseCommand):
    help = "Estimate every reference circuit on each backend's latest snapshot (circuits wider than a device are skipped)."

    def add_arguments(self, parser):
        parser.add_argument("--backend", action="append", default=[], help="only these backends (repeatable)")
        parser.add_argument("--family", action="append", default=[],
                            help="only backends of these processor families, e.g. Eagle, Heron (repeatable)")
        parser.add_argument("--max-qubits", type=int, default=None, help="only reference circuits up to this width")

    def handle(self, *args, backend, family, max_qubits, **options):
        circuits = Circuit.objects.filter(is_reference=True).order_by("num_qubits", "id")
        if max_qubits:
            circuits = circuits.filter(num_qubits__lte=max_qubits)
        if not circuits.exists():
            raise CommandError("no reference circuits stored: run `manage.py load_reference_circuits` first")
        backends = Backend.objects.all().order_by("name")
        if backend:
            backends = [selectors.backend_get(name) for name in backend]
        if family:
            backends = [b for b in backends if b.processor_family in family]
        latest = selectors.latest_snapshot_ids()
        total = {"created": 0, "existing": 0, "skipped_too_wide": 0, "failed": 0}
        started = time.perf_counter()
        for b in backends:
            if b.pk not in latest:
                continue
            snap = CalibrationSnapshot.objects.select_related("backend").get(pk=latest[b.pk])
            t0 = time.perf_counter()
            counts = services.estimates_for_snapshot(snap, circuits)
            for k in total:
                total[k] += counts[k]
            self.stdout.write(f"{b.name:<22} {snap.calibrated_at:%Y-%m-%d}  new {counts['created']:3d}  stored "
                              f"{counts['existing']:3d}  too wide {counts['skipped_too_wide']:3d}  unrunnable "
                              f"{counts['failed']}  ({time.perf_counter() - t0:.1f} s)")
            for reason in counts["reasons"][:2]:
                self.stdout.write(f"    unrunnable (stored, listed in leaderboards): {reason[:200]}")
        self.stdout.write(f"total: {total} in {time.perf_counter() - started:.1f} s")
