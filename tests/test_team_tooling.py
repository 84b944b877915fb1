"""Team tooling (issue 17, item 10): create_team / add_to_team / set_password commands (a user made by
create_api_token --create-user can then log into the dashboard), REST endpoints for team admins to add and remove
members, and CSV export of leaderboards, cost trends, estimates and search candidates."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.conftest import ROOT


def _client(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.smoke
def test_commands_create_teams_admins_and_passwords_for_token_users(db, monkeypatch):
    from search_app.models import TeamAdmin

    out = io.StringIO()
    call_command("create_api_token", "dana", "--create-user", stdout=out, stderr=io.StringIO())
    dana = get_user_model().objects.get(username="dana")
    assert not dana.has_usable_password()
    call_command("create_team", "qml-lab", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_team", "qml-lab")
    with pytest.raises(CommandError, match="team name"):
        call_command("create_team", "<b>")
    call_command("add_to_team", "qml-lab", "dana", "--admin", stdout=io.StringIO())
    team = Group.objects.get(name="qml-lab")
    assert dana.groups.filter(pk=team.pk).exists() and TeamAdmin.objects.filter(team=team, user=dana).exists()
    with pytest.raises(CommandError, match="not found"):
        call_command("add_to_team", "qml-lab", "nobody")
    with pytest.raises(CommandError, match="not found"):
        call_command("add_to_team", "no-team", "dana")

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CommandError, match="at least 8"):
        call_command("set_password", "dana", "--password-stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    call_command("set_password", "dana", "--password-stdin", stdout=io.StringIO())
    dana.refresh_from_db()
    assert dana.check_password("correct horse battery")

    # the dashboard login (DRF's session login) accepts the password now
    from django.test import Client

    web = Client()
    page = web.get("/api/auth/login/")
    assert page.status_code == 200
    r = web.post("/api/auth/login/", {"username": "dana", "password": "correct horse battery", "next": "/"})
    assert r.status_code == 302 and web.session.get("_auth_user_id") == str(dana.pk)

    call_command("add_to_team", "qml-lab", "dana", "--remove", stdout=io.StringIO())
    assert not dana.groups.exists() and not TeamAdmin.objects.filter(user=dana).exists()


def test_set_password_reads_stdin_in_a_real_process(tmp_path):
    """The command as an operator runs it: a separate process, the password piped in, never on the command line."""
    import os

    env = dict(os.environ, HANAS_VAR_DIR=str(tmp_path))  # a private embedded SQLite database
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    run = lambda *a, **kw: subprocess.run([sys.executable, "manage.py", *a], cwd=ROOT, env=env, text=True,  # noqa
                                          capture_output=True, timeout=300, **kw)
    if run("migrate", "--noinput").returncode != 0:
        pytest.skip("cannot migrate a private SQLite database in this environment")
    assert run("create_api_token", "erin", "--create-user").returncode == 0
    done = run("set_password", "erin", "--password-stdin", input="a long enough secret\n")
    assert done.returncode == 0, done.stderr
    check = run("shell", "-c", "from django.contrib.auth import get_user_model as g; "
                               "print(g().objects.get(username='erin').check_password('a long enough secret'))")
    assert check.stdout.strip().splitlines()[-1] == "True", check.stderr
    assert (tmp_path / "hanas.sqlite3").exists()


@pytest.mark.smoke
def test_team_admins_add_and_remove_members_over_rest(db):
    from search_app import teams

    User = get_user_model()
    lead, member, outsider, newbie, root = (User.objects.create_user(n, password="pw-12345678") for n in
                                            ("lead", "member", "outsider", "newbie", "root"))
    root.is_staff = True
    root.save()
    team = teams.team_create("lab")
    teams.member_add(team, lead, admin=True)
    teams.member_add(team, member)

    assert _client(lead).get("/api/teams/").json() == [{"name": "lab", "members": 2, "is_admin": True}]
    assert _client(member).get("/api/teams/").json()[0]["is_admin"] is False
    assert _client(outsider).get("/api/teams/").json() == []
    assert _client().get("/api/teams/").status_code in (401, 403)
    assert _client(outsider).get("/api/teams/lab/members/").status_code == 404
    assert [m["username"] for m in _client(member).get("/api/teams/lab/members/").json()] == ["lead", "member"]

    # a plain member may not add; an outsider does not even see the team
    assert _client(member).post("/api/teams/lab/members/", {"username": "newbie"}, format="json").status_code == 403
    assert _client(outsider).post("/api/teams/lab/members/", {"username": "newbie"}, format="json").status_code == 404
    r = _client(lead).post("/api/teams/lab/members/", {"username": "newbie", "admin": False}, format="json")
    assert r.status_code == 201 and r.json() == {"username": "newbie", "admin": False}
    assert newbie.groups.filter(name="lab").exists()
    bad = _client(lead).post("/api/teams/lab/members/", {"username": "newbie", "role": "x"}, format="json")
    assert bad.status_code == 400 and "role" in bad.json()
    assert _client(lead).post("/api/teams/lab/members/", {"username": "ghost"}, format="json").status_code == 404
    assert _client(lead).post("/api/teams/lab/members/", {}, format="json").status_code == 400
    # the new member sees the team's runs' visibility rule apply at once: they are in the group
    assert _client(newbie).get("/api/teams/lab/members/").status_code == 200

    assert _client(member).delete("/api/teams/lab/members/newbie/").status_code == 403
    assert _client(lead).delete("/api/teams/lab/members/newbie/").status_code == 204
    assert not newbie.groups.exists()
    assert _client(lead).delete("/api/teams/lab/members/newbie/").status_code == 404
    assert _client(lead).delete("/api/teams/lab/members/lead/").status_code == 409  # the last admin
    assert _client(root).delete("/api/teams/lab/members/lead/").status_code == 204  # staff may


# --------------------------------------------------------------------------------------- CSV export
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
GHZ = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n'
       'measure q -> c;\n')


def _csv(response):
    import csv

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.smoke
def test_csv_export_of_leaderboards_trends_estimates_and_candidates(db, user, monkeypatch):
    import datetime as dt

    from benchmarks_app import services
    from cost_engine.calibration import load_fake_calibration
    from search_app.models import Candidate, SearchRun

    services.ingest_fake(["lima", "quito"])
    lima = load_fake_calibration("lima")
    services.ingest_calibration(dataclasses_replace(lima, calibrated_at=lima.calibrated_at + dt.timedelta(days=1)))
    client = _client(user)
    ids = []
    for qasm, name in ((BELL, "=bell"), (GHZ, "ghz")):  # a name that a spreadsheet would run as a formula
        for backend in ("ibmq_lima", "ibmq_quito"):
            r = client.post("/api/estimates/", {"qasm": qasm, "name": name, "backend": backend}, format="json")
            assert r.status_code in (200, 201), r.content
            ids.append(r.json()["circuit"])
    bell = ids[0]

    rows = _csv(client.get(f"/api/leaderboards/backends/?circuit={bell}&format=csv"))
    board = client.get(f"/api/leaderboards/backends/?circuit={bell}").json()
    assert [r["backend"] for r in rows] == [r["backend"] for r in board["rows"]] and len(rows) == 2
    assert [float(r["value"]) for r in rows] == [r["value"] for r in board["rows"]]
    assert {r["metric"] for r in rows} == {"wallclock_s"} and rows[0]["circuit_name"] == "'=bell"
    rows = _csv(client.get("/api/leaderboards/circuits/?backend=lima", HTTP_ACCEPT="text/csv"))
    assert sorted(r["circuit_name"] for r in rows) == ["'=bell", "ghz"] and rows[0]["rank"] == "1"

    rows = _csv(client.get(f"/api/circuits/{bell}/cost-trend/?backend=lima&format=csv"))
    trend = client.get(f"/api/circuits/{bell}/cost-trend/?backend=lima").json()["points"]
    assert len(rows) == len(trend) == 2
    assert [float(r["value"]) for r in rows] == pytest.approx([p["value"] for p in trend])

    # a list exports every row, not one page
    from rest_framework.pagination import PageNumberPagination

    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    assert len(client.get("/api/estimates/").json()["results"]) == 2
    rows = _csv(client.get("/api/estimates/?format=csv"))
    assert len(rows) == 5 and {"id", "circuit_name", "backend", "wallclock_s"} <= set(rows[0])
    rows = _csv(client.get("/api/estimates/?format=csv&backend=quito"))
    assert {r["backend"] for r in rows} == {"ibmq_quito"} and len(rows) == 2

    run = SearchRun.objects.create(owner=user, config={"dataset": "iris"}, dataset="iris", backend_name="ibmq_lima",
                                   status="succeeded")
    for i, acc in enumerate((0.5, 0.75)):
        Candidate.objects.create(run=run, genome_key=f"k{i}", genome={"n_qubits": 2, "layers": i + 1}, generation=0,
                                 accuracy=acc, params_classical=10, params_quantum=4 + i, params_total=14 + i,
                                 c_total_s=1.5 * (i + 1), objectives=[1 - acc, 0.1, 14 + i],
                                 cost={"c_total_s": 1.5 * (i + 1)}, quantum_report={}, on_front=True)
    rows = _csv(client.get(f"/api/searches/{run.pk}/candidates/?format=csv"))
    assert [float(r["accuracy"]) for r in rows] == [0.5, 0.75] and rows[1]["genome.layers"] == "2"
    rows = _csv(client.get(f"/api/searches/{run.pk}/pareto/?format=csv"))
    assert len(rows) == 2 and {r["run"] for r in rows} == {str(run.pk)}
    rows = _csv(client.get("/api/leaderboards/architectures/?format=csv"))
    assert {r["table"] for r in rows} >= {"most_accurate_within_budget", "cheapest_above_accuracy_floor"}
    # errors keep their status in CSV too
    assert client.get("/api/leaderboards/backends/?format=csv").status_code == 400


def dataclasses_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)
