"""The platform's main job on whatever database and broker are configured.

Each step is a management command; a step whose command does not exist yet is reported and skipped,
so the job always runs what the platform has.
"""
import time

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

# (title, command name, args). Order matters: ingest, then cost, then search, then report.
STEPS = [
    ("Ingest the real calibration history (2019-2026)", "ingest_calibrations", ["--source", "history"]),
    ("Load the reference circuit suite", "load_reference_circuits", []),
    ("Cost the reference circuits on the latest snapshots", "cost_reference_circuits", []),
    # --reuse: a second `make run` shows the identical finished search instead of starting another one
    ("Run the default small Hyb-HANAS search", "run_search", ["--default", "--reuse"]),
    ("Print leaderboards", "print_leaderboards", []),
]


class Command(BaseCommand):
    help = "Run the main job: ingest calibrations, cost reference circuits, run a small search, print leaderboards."

    def add_arguments(self, parser):
        parser.add_argument("--skip", action="append", default=[], help="command name of a step to skip")

    def handle(self, skip, **options):
        available = get_commands()
        total_started = time.perf_counter()
        for title, name, args in STEPS:
            if name in skip:
                self.stdout.write(self.style.WARNING(f"== {title}: skipped (--skip {name})"))
                continue
            if name not in available:
                self.stdout.write(self.style.WARNING(f"== {title}: not available yet ({name})"))
                continue
            self.stdout.write(self.style.MIGRATE_HEADING(f"== {title} ({name} {' '.join(args)})"))
            started = time.perf_counter()
            call_command(name, *args, stdout=self.stdout, stderr=self.stderr)
            self.stdout.write(f"   done in {time.perf_counter() - started:.1f} s")
        self.stdout.write(self.style.SUCCESS(f"Main job finished in {time.perf_counter() - total_started:.1f} s"))
