"""Import a user's finished IBM Quantum jobs (observed execution times and their circuits) for profile fits."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from hanas_platform.api import InputError


class Command(BaseCommand):
    help = ("Read finished Sampler jobs of --backend created since --since (until --until) through "
            "qiskit-ibm-runtime (IBM_QUANTUM_TOKEN) into the observed-jobs table; idempotent on job id. Then: "
            "manage.py fit_execution_profile --observed --backend NAME --name mylab")

    def add_arguments(self, parser):
        parser.add_argument("--backend", required=True)
        parser.add_argument("--since", required=True, help="ISO date or date-time")
        parser.add_argument("--until", help="ISO date or date-time (default: now)")
        parser.add_argument("--limit", type=int, default=1000, help="at most this many jobs")
        parser.add_argument("--observed-from", choices=["timestamps", "usage"], default="timestamps",
                            help="running->finished timestamps (default) or usage.quantum_seconds (whole seconds)")
        parser.add_argument("--owner", help="username the jobs and circuits belong to")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, backend, since, until, limit, observed_from, owner, as_json, **options):
        from django.contrib.auth import get_user_model

        from benchmarks_app import services as bench_services
        from benchmarks_app.selectors import parse_when
        from profiles_app import ibm_jobs

        user = get_user_model().objects.filter(username=owner).first() if owner else None
        if owner and user is None:
            raise CommandError(f"unknown owner {owner!r}")
        if limit < 1:
            raise CommandError("--limit must be >= 1")
        try:
            result = ibm_jobs.import_ibm_jobs(backend, parse_when(since, "since"), parse_when(until, "until"),
                                              owner=user, limit=limit, prefer=observed_from)
        except (InputError, bench_services.IBMUnavailable, bench_services.IBMRejected) as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(result, default=str))
            return
        self.stdout.write(f"{backend}: {len(result['imported'])} jobs imported, {len(result['skipped'])} skipped "
                          f"of {result['seen']}")
        for s in result["skipped"][:20]:
            self.stdout.write(f"  skipped {s['job']}: {s['reason']}")
