"""Fit a wall-clock execution profile (COST_MODEL.md B) to a team's own observed IBM job times and store it as
the next version of a named profile in the database (profiles_app)."""
from __future__ import annotations

import json
import os

from django.core.management.base import BaseCommand, CommandError

from hanas_platform.api import InputError


class Command(BaseCommand):
    help = ("Fit an execution profile from OBSERVED.csv (columns qasm_path, backend, shots, observed_seconds; "
            "optional n_circuits, snapshot) or from imported IBM jobs (--observed); store it as a new version "
            "of --name and report held-out errors.")

    def add_arguments(self, parser):
        parser.add_argument("csv_path", nargs="?")
        parser.add_argument("--observed", action="store_true",
                            help="fit on the ObservedJob table (manage.py import_ibm_jobs) instead of a CSV")
        parser.add_argument("--backend", help="with --observed: only this backend's jobs")
        parser.add_argument("--since", help="with --observed: jobs created at or after (ISO date)")
        parser.add_argument("--until", help="with --observed: jobs created at or before (ISO date)")
        parser.add_argument("--name", default="fitted")
        parser.add_argument("--test-fraction", type=float, default=0.3)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--terms", help="comma-separated candidate terms (default: all)")
        parser.add_argument("--owner", help="username owning the profile (default: a site-wide profile)")
        parser.add_argument("--team", help="team (group) name for team visibility")
        parser.add_argument("--visibility", choices=["private", "team", "public"])
        parser.add_argument("--scope", choices=["global", "family", "backend"], default="global")
        parser.add_argument("--scope-value", default="", help="backend name or processor family")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the stored profile")

    def handle(self, *args, csv_path, observed, backend, since, until, name, test_fraction, seed, terms, owner,
               team, visibility, scope, scope_value, as_json, **options):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from benchmarks_app.selectors import parse_when
        from profiles_app import selectors, services

        user = get_user_model().objects.filter(username=owner).first() if owner else None
        if owner and user is None:
            raise CommandError(f"unknown owner {owner!r}")
        group = Group.objects.filter(name=team).first() if team else None
        if team and group is None:
            raise CommandError(f"unknown team {team!r}")
        visibility = visibility or ("team" if group else "private" if user else "public")
        try:
            if observed:
                jobs = selectors.observed_jobs(backend=backend, since=parse_when(since, "since"),
                                               until=parse_when(until, "until"))
                obs = services.observations_from_jobs(jobs)
                provenance = {"data": f"observed jobs backend={backend or 'any'} since={since} until={until}",
                              "job_ids": [o.label for o in obs][:2000]}
            elif csv_path:
                obs = self._from_csv(csv_path, services)
                provenance = {"data": os.path.basename(csv_path), "path": os.path.abspath(csv_path)}
            else:
                raise CommandError("give OBSERVED.csv or --observed")
            row = services.fit_and_store(obs, name=name, owner=user, team=group, visibility=visibility,
                                         scope=scope, scope_value=scope_value, test_fraction=test_fraction,
                                         seed=seed, terms=[t.strip() for t in terms.split(",")] if terms else None,
                                         provenance=provenance)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        rep = row.fit_report
        if as_json:
            self.stdout.write(json.dumps(stored_profile(row)))
            return
        p = rep["profile"]
        used = ", ".join(f"{t} {p[f]:.4g} s" for t, f in _coefficient_fields() if t in rep["terms"])
        self.stdout.write(f"profile {row}: {used or 'no overhead term'} + shots x T_shot "
                          f"(non-negative {rep.get('loss', 'least_squares').replace('_', ' ')})")
        dropped = [s["best"] for s in rep["selection"] if s.get("accepted") is False]
        if dropped:
            self.stdout.write(f"  next best term {dropped[0]} rejected by cross-validation "
                              f"(gain < {rep['min_gain']:.0%})")
        for t, why in rep["not_identifiable"].items():
            self.stdout.write(f"  {t}: not identifiable ({why})")
        self.stdout.write(f"train {rep['n_train']} jobs, test {rep['n_test']} jobs; on the test split:")
        self.stdout.write(f"  {'predictor':<28} {'MAE [s]':>10} {'median rel. error':>18} {'R^2':>8}")
        for label, key in (("fitted profile", "fitted"), ("default (IBM docs)", "default"),
                           ("paper T_eff x shots", "paper_t_eff_x_shots")):
            if key in rep["test"]:
                e = rep["test"][key]
                r2 = f"{e['r2']:.3g}" if e.get("r2") is not None else "-"
                self.stdout.write(f"  {label:<28} {e['mae_s']:>10.4g} {e['median_rel_error']:>18.3%} {r2:>8}")
        pi = rep["prediction_interval"]
        self.stdout.write(f"{pi['level']:.0%} prediction interval: [{pi['lo_s']:+.3g} s, {pi['hi_s']:+.3g} s] "
                          f"around a prediction ({pi['test_coverage']:.0%} of test jobs inside)")
        self.stdout.write(f"stored as {row} (use: manage.py estimate_cost CIRCUIT.qasm --backend NAME "
                          f"--profile {row})")

    def _from_csv(self, path, services):
        try:
            with open(path, newline="") as fh:
                text = fh.read()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        ignored: list = []
        rows = services.parse_csv_log(text, where=path, strict=False, ignored=ignored)
        if ignored:
            self.stderr.write(f"note: {path}: column(s) {ignored} ignored")
        base = os.path.dirname(os.path.abspath(path))

        def qasm_for(row, line):
            from benchmarks_app import selectors as bench_selectors

            if row.get("qasm"):
                return row["qasm"]
            if row.get("circuit"):
                return bench_selectors.circuit_get(row["circuit"]).qasm
            rel = row.get("qasm_path") or ""
            if not rel:
                raise InputError("no qasm_path, qasm or circuit given", field="qasm_path")
            full = rel if os.path.isabs(rel) else os.path.join(base, rel)
            try:
                with open(full) as fh:
                    return fh.read()
            except OSError as exc:
                raise InputError(f"cannot read {rel}: {exc.strerror}", field="qasm_path") from exc

        return services.observations_from_rows(rows, qasm_for, where=path)


def _coefficient_fields():
    from cost_engine.execution import TERMS

    return [(t, f) for t, (f, _) in TERMS.items()]


def stored_profile(row) -> dict:
    """A stored profile as one JSON object: identity, visibility, scope, constants and the fit report."""
    rep = row.fit_report or {}
    return {"id": row.pk, "name": row.name, "version": row.version, "ref": str(row),
            "owner": row.owner.username if row.owner_id else None, "team": row.team.name if row.team_id else None,
            "visibility": row.visibility, "scope": row.scope, "scope_value": row.scope_value,
            "source": row.source, "provenance": row.provenance, "created_at": row.created_at.isoformat(),
            "terms": row.terms, **{k: v for k, v in rep.items() if k not in ("terms",)},
            "profile": row.constants}
