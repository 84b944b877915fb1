"""Print the backend leaderboard of a few reference circuits and the architecture leaderboard of searches."""
from django.core.management.base import BaseCommand

from benchmarks_app import selectors, services
from benchmarks_app.models import Circuit


class Command(BaseCommand):
    help = "Print leaderboards: backends per reference circuit, and the best searched architectures."

    def add_arguments(self, parser):
        parser.add_argument("--metric", default="wallclock_s", choices=sorted(selectors.LEADERBOARD_METRICS))
        parser.add_argument("--top", type=int, default=8)
        parser.add_argument("--circuit", action="append", default=[],
                            help="circuit names (default: ghz_8, qft_8, hqnn_8 when stored)")
        parser.add_argument("--profile", help="execution profile NAME or NAME@vN for wallclock_s (default ibm-default)")

    def handle(self, *args, metric, top, circuit, profile=None, **options):
        from django.core.management.base import CommandError

        from cost_engine.quantum import MODEL_VERSION
        from hanas_platform.api import InputError
        from profiles_app import selectors as profile_selectors

        try:
            _, engine, _ = profile_selectors.resolve(None, profile, None, everyone=True)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        opts_hash = services.cost_options({}).options_hash()
        names = circuit or ["ghz_8", "qft_8", "hqnn_8"]
        for c in Circuit.objects.filter(name__in=names).order_by("name"):
            board = selectors.backend_leaderboard(c, metric, opts_hash, MODEL_VERSION, engine=engine)
            self.stdout.write(self.style.MIGRATE_HEADING(
                f"Backends for {c.name} ({c.num_qubits} qubits), by {metric} "
                f"({'higher' if board['higher_is_better'] else 'lower'} is better; wall-clock with "
                f"{engine.label})"))
            self.stdout.write(f"{'#':>3} {'backend':<20} {'family':<10} {'snapshot':<11} {metric:>14} "
                              f"{'t_eff_s':>11} {'log_esp':>9} {'swaps':>6}")
            for r in board["rows"][:top]:
                if not r["runnable"]:
                    self.stdout.write(f"{'-':>3} {r['backend']:<20} unrunnable: {r['unrunnable_reason']}")
                    continue
                rank = "-" if r["rank"] is None else r["rank"]
                self.stdout.write(f"{rank:>3} {r['backend']:<20} {r['processor_family'] or '-':<10} "
                                  f"{r['snapshot_calibrated_at']:%Y-%m-%d}  {_f(r['value']):>14} {_f(r['t_eff_s']):>11} "
                                  f"{_f(r['log_esp']):>9} {r['n_swaps']:6d}")
            if board["not_estimated"]:
                self.stdout.write(f"    not estimated yet on: {', '.join(board['not_estimated'][:10])}"
                                  f"{' ...' if len(board['not_estimated']) > 10 else ''}")
        self._architectures(top)

    def _architectures(self, top):
        try:
            from search_app import selectors as search_selectors
        except ImportError:  # pragma: no cover
            return
        board = search_selectors.architecture_leaderboard(None, limit=top)
        self.stdout.write(self.style.MIGRATE_HEADING("Architectures (public search runs, by dataset): most accurate (validation)"))
        for c in board["most_accurate_within_budget"]:
            g = c.genome
            self.stdout.write(f"  val acc {c.accuracy:.3f}  C_total {_f(c.c_total_s)} s  params {c.params_total:5d}  "
                              f"{c.run.dataset} on {c.run.backend_name}: {g['n_qubits']}q x{g['n_layers']} "
                              f"{g['encoding']} {g['entangler']}")
        self.stdout.write(self.style.MIGRATE_HEADING("Architectures: front hypervolume per run"))
        for r in board["hypervolume_by_run"]:
            self.stdout.write(f"  run {r['run']:4d} {r['dataset']:<14} {r['backend']:<18} HV {r['hypervolume']:.4f} "
                              f"after {r['generations']} generations ({r['status']})")


def _f(x):
    return "n/a" if x is None else f"{x:.4g}"
