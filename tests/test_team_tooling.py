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
