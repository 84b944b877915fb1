"""Re-cost stored estimates of older cost-model versions under the current one (benchmarks_app.recost)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from benchmarks_app import recost, selectors
from hanas_platform.api import InputError


class Command(BaseCommand):
    help = ("Re-cost stored estimates (and refusals) of older model versions under the current model: "
            "--all, or --backend NAME (repeatable) [--circuit ID]; --dry-run counts without computing. Old rows "
            "are kept and stay readable, labelled with their model_version. Safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every backend")
        parser.add_argument("--backend", action="append", default=[], help="backend name (repeatable)")
        parser.add_argument("--circuit", type=int, help="only this circuit id")
        parser.add_argument("--dry-run", action="store_true", help="count what would be re-costed, compute nothing")
        parser.add_argument("--batch-size", type=int, default=200, help="rows read per batch (default 200)")

    def handle(self, *args, all, backend, circuit, dry_run, batch_size, **options):
        from cost_engine.quantum import MODEL_VERSION

        if all == bool(backend):
            raise CommandError("give either --all or --backend NAME")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            backends = [selectors.backend_get(name) for name in backend] or [None]
            circuit_obj = selectors.circuit_get(circuit) if circuit is not None else None
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"current model: {MODEL_VERSION}{' (dry run: nothing is computed)' if dry_run else ''}")
        totals = recost.RecostResult()
        for b in backends:
            label = b.name if b else "all backends"

            def progress(done, total, res, label=label):
                self.stdout.write(f"  {label}: {done}/{total} old rows read; {res.created} re-costed, "
                                  f"{res.already_current} already current, {res.refused} refused")

            res = recost.recost_old_estimates(backend=b, circuit=circuit_obj, dry_run=dry_run,
                                              batch_size=batch_size, progress=progress)
            for k, v in res.as_dict().items():
                setattr(totals, k, getattr(totals, k) + v)
        todo = totals.candidates - totals.already_current
        if dry_run:
            self.stdout.write(f"would re-cost {todo} of {totals.candidates} distinct question(s) under {MODEL_VERSION} "
                              f"({totals.already_current} already current, {totals.invalid_options} with options the "
                              f"current model rejects)")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"re-costed {totals.created}, refused {totals.refused} (stored as unrunnable), "
                f"{totals.already_current} already current, {totals.invalid_options} skipped (invalid options) "
                f"of {totals.candidates} distinct question(s) under {MODEL_VERSION}"))
        for reason in totals.reasons[:10]:
            self.stdout.write(self.style.WARNING(f"  {reason}"))
