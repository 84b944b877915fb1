"""Shared fixtures. The real Celery worker fixture starts `celery worker` as a separate process against the
same PostgreSQL test database and Redis broker the test run uses (scripts/run_tests.sh starts both)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def _real_services() -> bool:
    return bool(os.environ.get("DATABASE_URL", "").startswith("postgres")) and bool(
        os.environ.get("CELERY_BROKER_URL", "").startswith("redis"))


def pytest_collection_modifyitems(config, items):
    if _real_services():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL + Redis: run through scripts/run_tests.sh")
    for item in items:
        if "worker" in item.keywords or "postgres" in item.keywords:
            item.add_marker(skip)


class WorkerProcess:
    """A real `celery worker` subprocess. start()/kill()/stop() so tests can kill and restart it."""

    def __init__(self, env: dict, name: str, concurrency: int = 1):
        self.env = env
        self.name = name
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.log_path = ARTIFACTS / f"worker-{name}.log"

    def start(self, timeout: float = 60.0) -> "WorkerProcess":
        from hanas_platform.celery import app

        ARTIFACTS.mkdir(exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hanas_platform", "worker", "--loglevel=INFO",
             f"--concurrency={self.concurrency}", "--pool=prefork", f"--hostname={self.name}@%h",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.proc.returncode}; see {self.log_path}")
            replies = app.control.ping(timeout=0.5) or []
            if any(name.startswith(self.name + "@") for reply in replies for name in reply):
                return self
        raise RuntimeError(f"celery worker {self.name} did not answer ping within {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole worker process group (main process and pool children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if getattr(self, "_log", None):
            self._log.close()


@pytest.fixture
def worker_env(transactional_db, settings):
    """Environment for a worker process that talks to this test run's database and broker."""
    from django.db import connection

    if not _real_services():
        pytest.skip("needs PostgreSQL + Redis")
    env = dict(os.environ)
    db = connection.settings_dict
    env["DATABASE_URL"] = (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
                           if db["PASSWORD"] else f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def celery_worker_factory(worker_env):
    """Start real worker processes on demand; every one started is stopped at teardown."""
    started: list[WorkerProcess] = []
    counter = iter(range(1000))

    def make(concurrency: int = 1, start: bool = True) -> WorkerProcess:
        worker = WorkerProcess(worker_env, name=f"w{os.getpid()}-{next(counter)}", concurrency=concurrency)
        started.append(worker)
        return worker.start() if start else worker

    yield make
    for worker in started:
        worker.stop()


@pytest.fixture
def real_worker(celery_worker_factory):
    return celery_worker_factory()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="alice", password="pw-alice-123")


@pytest.fixture
def auth_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=user)
    return client
