"""The embedded default's deployment settings and the stale-work sweep (issue 17, items 4, 5 and 8)."""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GHZ3 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n'


def _settings(tmp_path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY", "DEBUG",
                          "CELERY_TASK_ALWAYS_EAGER", "CELERY_VISIBILITY_TIMEOUT"}}
    clean.update(HANAS_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="hanas_platform.settings", **env)
    code = ("import json, django; django.setup(); from django.conf import settings as s; from django.db import connection;"
            "c = connection.cursor(); c.execute('PRAGMA journal_mode') if connection.vendor == 'sqlite' else None;"
            "print(json.dumps({'key': s.SECRET_KEY, 'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL,"
            "'transport': getattr(s, 'CELERY_BROKER_TRANSPORT', None), 'options': s.CELERY_BROKER_TRANSPORT_OPTIONS,"
            "'journal': c.fetchone()[0] if connection.vendor == 'sqlite' else None,"
            "'db_options': s.DATABASES['default'].get('OPTIONS', {})}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.smoke
def test_embedded_secret_key_is_generated_once_per_deployment(tmp_path):
    first = _settings(tmp_path / "a")
    again = _settings(tmp_path / "a")
    other = _settings(tmp_path / "b")
    key_file = tmp_path / "a" / "secret_key"
    assert first["key"] == again["key"] == key_file.read_text().strip()
    assert other["key"] != first["key"]
    assert len(first["key"]) >= 50 and first["key"] != "insecure-dev-key-only-for-local-debug-runs"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _settings(tmp_path / "a", SECRET_KEY="s" * 60)["key"] == "s" * 60


@pytest.mark.smoke
def test_embedded_sqlite_is_wal_with_immediate_transactions_and_local_queue(tmp_path):
    got = _settings(tmp_path, CELERY_BROKER_URL="filesystem://")
    assert got["journal"] == "wal"
    assert got["db_options"]["transaction_mode"] == "IMMEDIATE" and got["db_options"]["timeout"] >= 10
    assert got["eager"] is False and got["broker"] == "filesystem://"
    assert got["transport"] == "hanas_platform.fsbroker:Transport"
    assert got["options"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert (tmp_path / "broker" / "queue").is_dir() and (tmp_path / "broker" / "control").is_dir()
    # no broker at all: tasks run in the calling process (tests, one-off commands)
    assert _settings(tmp_path)["eager"] is True
    redis = _settings(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    assert redis["options"]["visibility_timeout"] == 300 and redis["options"]["socket_connect_timeout"] <= 5


@pytest.mark.smoke
def test_local_queue_round_trip_is_atomic(tmp_path):
    """Messages are renamed into the queue folder complete: a consumer never sees a half-written file."""
    from kombu import Connection

    opts = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    with Connection("filesystem://", transport="hanas_platform.fsbroker:Transport", transport_options=opts) as conn:
        q = conn.SimpleQueue("t")
        q.put({"n": 1})
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".t.msg")]
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
        msg = q.get(timeout=2)
        assert msg.payload == {"n": 1}
        msg.ack()
        q.close()


@pytest.fixture
def sherbrooke(db):
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration

    snap, _ = ingest_calibration(load_fake_calibration("sherbrooke"))
    return snap


@pytest.mark.smoke
@pytest.mark.django_db
def test_sweep_requeues_lost_jobs_and_fails_hopeless_ones(sherbrooke, user, settings):
    """A queued job whose message was lost is queued again by the sweep (eager here: it runs at once); one
    queued past HANAS_QUEUED_MAX_SECONDS, or of a kind no task runs, fails with a clear error."""
    from django.utils import timezone

    from benchmarks_app import services
    from benchmarks_app.models import Job

    circuit, _ = services.circuit_create(qasm=GHZ3, name="ghz3", owner=user)
    params = {"circuit": circuit.pk, "snapshot": sherbrooke.pk, "options": services.cost_options({}).to_dict()}
    lost = services.job_create(kind="estimate", owner=user, params=params)
    old = services.job_create(kind="estimate", owner=user, params=params)
    odd = services.job_create(kind="mystery", owner=user)
    fresh = services.job_create(kind="estimate", owner=user, params=params)
    backlog = services.job_create(kind="estimate", owner=user, params=params)
    now = timezone.now()
    Job.objects.filter(pk__in=[lost.pk, odd.pk]).update(created_at=now - dt.timedelta(minutes=10))
    # queued twice already, last 3 min ago: the next re-queue waits 2 x HANAS_STALE_QUEUED_SECONDS (backoff)
    Job.objects.filter(pk=backlog.pk).update(created_at=now - dt.timedelta(minutes=10), dispatch_count=2,
                                             dispatched_at=now - dt.timedelta(minutes=3))
    Job.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(hours=7))
    out = services.jobs_sweep()
    assert out["requeued"] == [str(lost.pk)] and set(out["failed"]) == {str(old.pk), str(odd.pk)}
    states = {j.pk: j for j in Job.objects.all()}
    # eager (SQLite smoke run): it ran at once; with a broker it is queued there again (tests/test_faults.py runs
    # the sweep on a real worker and sees the job complete)
    expected = "succeeded" if settings.CELERY_TASK_ALWAYS_EAGER else "queued"
    assert states[lost.pk].status == expected and states[lost.pk].dispatch_count == 1
    assert states[lost.pk].dispatched_at is not None
    assert states[old.pk].status == "failed" and "never started" in states[old.pk].error
    assert states[odd.pk].status == "failed" and "mystery" in states[odd.pk].error
    assert states[fresh.pk].status == "queued"  # younger than HANAS_STALE_QUEUED_SECONDS: left alone
    assert states[backlog.pk].status == "queued" and states[backlog.pk].dispatch_count == 2


@pytest.mark.smoke
@pytest.mark.django_db
def test_sweep_fails_searches_queued_too_long(sherbrooke, user):
    from django.utils import timezone

    from search_app import services
    from search_app.models import SearchRun

    config = {"dataset": "iris", "backend": "ibm_sherbrooke", "space": {"min_qubits": 2, "max_qubits": 2,
                                                                        "max_layers": 1},
              "population": 4, "generations": 1, "epochs": 1, "seed": 1}
    run = services.search_create(owner=user, config=config, start=False)
    SearchRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(hours=7),
                                               updated_at=timezone.now() - dt.timedelta(hours=7))
    out = services.runs_sweep()
    run.refresh_from_db()
    assert out["failed"] == [run.pk] and run.status == "failed" and "never started" in run.error


@pytest.mark.smoke
def test_periodic_sweep_is_scheduled(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="benchmarks_app.sweep_stale_work")
    assert task.enabled and task.interval.period == "seconds" and task.interval.every <= 300
