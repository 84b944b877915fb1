"""Ingest calibration snapshots: bundled real-device snapshots, the live IBM service, or JSON files."""
from __future__ import annotations

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks_app import selectors, services
from cost_engine.errors import CostEngineError
from hanas_platform.api import InputError


class Command(BaseCommand):
    help = ("Ingest calibrations: --source fake --all | --source fake --backend NAME | --source ibm --backend NAME "
            "[--since DATE --until DATE] | --source history [--backend NAME] | --source file PATH...")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="calibration JSON files (--source file)")
        parser.add_argument("--source", choices=["fake", "ibm", "file", "history"], required=True)
        parser.add_argument("--all", action="store_true", help="every bundled fake backend")
        parser.add_argument("--backend", action="append", default=[], help="backend name (repeatable)")
        parser.add_argument("--since", help="ISO date: back-fill daily history from IBM starting here")
        parser.add_argument("--until", help="ISO date: end of the back-fill (default now)")

    def handle(self, *args, paths, source, all, backend, since, until, **options):
        created = stored = 0
        try:
            if source == "fake":
                if not all and not backend:
                    raise CommandError("give --all or --backend NAME with --source fake")
                results = services.ingest_fake(None if all else backend)
            elif source == "history":
                return self._history(backend)
            elif source == "ibm":
                if not backend:
                    raise CommandError("give --backend NAME with --source ibm")
                results = []
                for name in backend:
                    s, u = selectors.parse_when(since, "since"), selectors.parse_when(until, "until")
                    results += [(f"{name} {when}", new) for when, new in self._ibm_with_retries(name, s, u)]
            else:
                if not paths:
                    raise CommandError("give one or more JSON paths with --source file")
                results = [self._file(p) for p in paths]
        except services.IBMRejected as exc:
            raise CommandError(f"{exc} (permanent: not retried; nothing was written)") from exc
        except services.IBMUnavailable as exc:
            raise CommandError(f"{exc} (still failing after retries; nothing was written)") from exc
        except (CostEngineError, InputError) as exc:
            raise CommandError(f"{getattr(exc, 'field', None) or 'input'}: {exc} (nothing was written)") from exc
        for name, new in results:
            created += new
            stored += not new
            self.stdout.write(f"  {name:<40} {'created' if new else 'already stored (unchanged)'}")
        self.stdout.write(f"ingested {len(results)} snapshot(s): {created} created, {stored} already stored")

    def _ibm_with_retries(self, name, since, until):
        """Transient failures (network, timeouts, HTTP 5xx/429) are retried with exponential backoff
        (settings IBM_FETCH_ATTEMPTS, default 4, and IBM_FETCH_BACKOFF_S, default 2 s); permanent ones (bad
        token, unknown backend) fail at once."""
        attempts = max(1, int(getattr(settings, "IBM_FETCH_ATTEMPTS", 4)))
        backoff = float(getattr(settings, "IBM_FETCH_BACKOFF_S", 2.0))
        for attempt in range(1, attempts + 1):
            try:
                return services.ingest_ibm(name, since, until)
            except services.IBMUnavailable as exc:
                if attempt == attempts:
                    raise
                wait = backoff * 2 ** (attempt - 1)
                self.stderr.write(f"  {exc} (attempt {attempt}/{attempts}; retrying in {wait:g} s)")
                time.sleep(wait)
        return []

    def _history(self, names):
        """The shipped real calibration history (every device, or the named ones); skipped files say why."""
        results = services.ingest_history(names or None)
        counts = {True: 0, False: 0, None: 0}
        for label, new, reason in results:
            counts[new] += 1
            state = {True: "created", False: "already stored (unchanged)", None: f"skipped: {reason}"}[new]
            self.stdout.write(f"  {label:<40} {state}")
        self.stdout.write(f"history: {len(results)} file(s): {counts[True]} created, {counts[False]} already stored, "
                          f"{counts[None]} skipped")

    def _file(self, path):
        try:
            with open(path) as fh:
                payload = json.load(fh)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        try:
            snapshot, new = services.ingest_payload(payload, source=f"file:{path}"[:100])
        except CostEngineError as exc:
            raise CommandError(f"{path}: {exc.field or 'calibration'}: {exc} (nothing was written)") from exc
        return f"{snapshot.backend.name} {snapshot.calibrated_at:%Y-%m-%d %H:%M} ({path})", new
