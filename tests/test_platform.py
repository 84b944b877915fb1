"""Platform foundation: settings from the environment, auth, schema/docs/health, broker -> worker -> database."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hanas_platform.env import env_bool, parse_database_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.smoke
def test_parse_database_url_postgres_and_sqlite():
    cfg = parse_database_url("postgres://bob:s%40cret@db.local:5433/hanas?sslmode=require")
    assert cfg["ENGINE"] == "django.db.backends.postgresql"
    assert (cfg["USER"], cfg["PASSWORD"], cfg["HOST"], cfg["PORT"], cfg["NAME"]) == (
        "bob", "s@cret", "db.local", "5433", "hanas")
    assert cfg["OPTIONS"] == {"sslmode": "require"}
    assert parse_database_url("sqlite:////tmp/x.sqlite3")["NAME"] == "/tmp/x.sqlite3"
    with pytest.raises(ValueError, match="scheme"):
        parse_database_url("mysql://x/y")
    with pytest.raises(ValueError, match="names no database"):
        parse_database_url("postgres://u@h:1/")


@pytest.mark.smoke
def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG"):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG", False) is True


def _settings_in_subprocess(env_overrides: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY", "DEBUG"}}
    env.update(env_overrides)
    code = ("import json, django; from django.conf import settings; django.setup();"
            "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],"
            "'eager': settings.CELERY_TASK_ALWAYS_EAGER if hasattr(settings, 'CELERY_TASK_ALWAYS_EAGER') else False,"
            "'broker': settings.CELERY_BROKER_URL, 'debug': settings.DEBUG,"
            "'perm': settings.REST_FRAMEWORK['DEFAULT_PERMISSION_CLASSES']}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    return {"rc": out.returncode, "stdout": out.stdout, "stderr": out.stderr,
            **(json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {})}


@pytest.mark.smoke
def test_embedded_default_is_sqlite_and_eager(tmp_path):
    got = _settings_in_subprocess({"HANAS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hanas_platform.settings"})
    assert got["rc"] == 0, got["stderr"]
    assert got["engine"] == "django.db.backends.sqlite3"
    assert got["eager"] is True and got["broker"] == "memory://"
    assert got["debug"] is False
    assert got["perm"] == ["rest_framework.permissions.IsAuthenticatedOrReadOnly"]


@pytest.mark.smoke
def test_web_process_starts_without_torch(tmp_path):
    """The WSGI start-up loads every view (genomes, search configs, cost options) and qiskit's compiled modules
    (on the main thread: request threads crash on a first import, issue 17), but not torch or scikit-learn:
    those load in workers when a candidate is trained."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"}}
    env.update(HANAS_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="hanas_platform.settings")
    code = ("import gc, json, sys; import hanas_platform.wsgi;"
            "print(json.dumps({'heavy': sorted(m for m in ('torch', 'sklearn') if m in sys.modules),"
            "'qiskit': 'qiskit._accelerate' in sys.modules and 'qiskit.qasm3' in sys.modules,"
            "'frozen': gc.get_freeze_count()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []
    assert got["qiskit"] is True
    assert got["frozen"] > 10_000  # start-up objects are out of the cycle collector's full passes


@pytest.mark.smoke
@pytest.mark.parametrize("setting, expected", [(None, 1), ("2", 2)])
def test_worker_pool_processes_limit_torch_threads(tmp_path, setting, expected):
    """A worker's main process loads every task module without torch; each pool process then sets torch's
    thread count before torch loads (HANAS_WORKER_TORCH_THREADS, default 1), so several pool processes on one
    machine do not oversubscribe its cores."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                        "HANAS_WORKER_TORCH_THREADS"}}
    env.update(HANAS_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="hanas_platform.settings")
    if setting:
        env["HANAS_WORKER_TORCH_THREADS"] = setting
    code = ("import json, sys, django; django.setup(); from hanas_platform.celery import app;"
            "app.loader.import_default_modules(); loaded = 'torch' in sys.modules;"
            "from celery.signals import worker_process_init; worker_process_init.send(sender=None);"
            "import torch; print(json.dumps({'loaded': loaded, 'threads': torch.get_num_threads()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"loaded": False, "threads": expected}


@pytest.mark.smoke
def test_deployed_settings_need_secret_key_and_honour_env(tmp_path):
    base = {"HANAS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hanas_platform.settings",
            "DATABASE_URL": "postgres://u@127.0.0.1:1/x", "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    missing = _settings_in_subprocess(base)
    assert missing["rc"] != 0 and "SECRET_KEY must be set" in missing["stderr"]
    got = _settings_in_subprocess({**base, "SECRET_KEY": "k" * 50, "HANAS_PUBLIC_READS": "0"})
    assert got["rc"] == 0, got["stderr"]
    assert got["engine"] == "django.db.backends.postgresql"
    assert got["eager"] is False and got["broker"] == "redis://127.0.0.1:1/0"
    assert got["perm"] == ["rest_framework.permissions.IsAuthenticated"]


@pytest.mark.smoke
@pytest.mark.django_db
def test_openapi_schema_is_valid_and_documents_every_answer(tmp_path):
    """drf-spectacular validates the schema and fails on any warning (an undocumented response, a view it
    cannot introspect); the JSON answers views assemble themselves are described field by field."""
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    diff = schema["components"]["schemas"]["SnapshotDiff"]["properties"]
    assert {"from", "to", "qubits", "edges", "summary"} <= set(diff)
    trend = schema["paths"]["/api/circuits/{id}/cost-trend/"]["get"]["responses"]
    assert {"200", "202"} <= set(trend)


@pytest.mark.smoke
@pytest.mark.django_db
def test_schema_docs_and_health(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/health/" in json.loads(schema.content)["paths"]
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
    # Every Swagger UI asset is served by the platform itself (no CDN): the page references local static files.
    import re

    assets = re.findall(rb'(?:src|href)="([^"]+\.(?:js|css))"', docs.content)
    assert assets and all(a.startswith(b"/static/") for a in assets), assets
    for asset in assets:
        from django.test import Client

        assert Client().get(asset.decode()).status_code == 200, asset
    health = api_client.get("/api/health/")
    assert health.status_code == 200
    body = health.json()
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] in {"sqlite", "postgresql"}


@pytest.mark.smoke
@pytest.mark.django_db
def test_create_api_token_command_and_token_auth(api_client):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("create_api_token", "carol", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("create_api_token", "carol", "--create-user", stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    assert len(key) == 40
    again = StringIO()
    call_command("create_api_token", "carol", stdout=again, stderr=StringIO())
    assert again.getvalue().strip() == key
    # The token authenticates: the session-auth user endpoint of DRF is not used; check via a protected view.
    from rest_framework.authtoken.models import Token

    assert Token.objects.get(key=key).user.username == "carol"


@pytest.mark.django_db
def test_job_endpoint_reports_progress(api_client):
    from benchmarks_app import services

    job = services.job_create(kind="demo", total=4)
    services.job_start(job)
    services.job_progress(job, current=1, message="first of four")
    body = api_client.get(f"/api/jobs/{job.id}/").json()
    assert body["status"] == "running" and body["progress"] == 0.25 and body["message"] == "first of four"
    assert api_client.get("/api/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_requirements_pin_cpu_torch_and_no_cuda():
    req = (ROOT / "requirements.txt").read_text()
    assert "torch==2.13.0" in req.splitlines()
    installed = subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True, text=True).stdout
    assert "nvidia-" not in installed.lower()


def test_compose_services_and_env_names_match_settings():
    compose = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    settings_text = (ROOT / "hanas_platform" / "settings.py").read_text()
    for name in ("web", "worker", "beat"):
        env = services[name].get("environment") or {}
        names = set(env) if isinstance(env, dict) else {item.split("=", 1)[0] for item in env}
        for var in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"):
            assert var in names, f"{name} lacks {var}"
        for var in names:
            assert f'"{var}"' in settings_text, f"{name} sets {var}, which settings.py never reads"
    assert "celery" in " ".join(services["worker"]["command"] if isinstance(services["worker"]["command"], list)
                                else [services["worker"]["command"]])
    assert (ROOT / "docker" / "Dockerfile").exists()


@pytest.mark.worker
def test_task_goes_through_redis_to_real_worker_which_writes_to_postgres(real_worker):
    from benchmarks_app.models import WorkerHeartbeat
    from benchmarks_app.tasks import heartbeat
    from django.db import connection

    assert connection.vendor == "postgresql"
    result = heartbeat.delay("integration-test")
    reply = result.get(timeout=60)
    row = WorkerHeartbeat.objects.get(pk=reply["id"])
    assert row.note == "integration-test"
    assert row.pid == reply["pid"] and row.pid != os.getpid()
    assert row.pid != real_worker.proc.pid  # written by a pool child of the worker, not by us


@pytest.mark.worker
def test_health_reports_broker_and_live_worker(real_worker, api_client):
    body = api_client.get("/api/health/").json()
    assert body["broker"]["ok"] is True and body["broker"]["transport"] == "redis"
    assert body["workers"]["ok"] is True and body["workers"]["count"] >= 1
    assert body["status"] == "ok"
