"""Drift watches (issue 16, part 2): a watch fires exactly once per crossing when a newly ingested snapshot drifts,
its alert names the qubit whose T2 dropped, and its webhook reaches a real HTTP receiver on loopback, signed
with HMAC-SHA256 of the body, retried after a 500, and not delivered twice after a worker restart."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cost_engine.calibration import load_fake_calibration

from .test_drift_drivers import GHZ4, drifted


class Receiver:
    """A real HTTP server on loopback recording every POST; answers the scripted status codes in turn (then
    200)."""

    def __init__(self, codes=()):
        self.codes = list(codes)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    code = receiver.codes.pop(0) if receiver.codes else 200
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "answered": code})
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, request: dict) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"].get("X-Hanas-Signature", ""))


def wait_for(predicate, timeout=120.0, step=0.25, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def _setup(client):
    """Sherbrooke's bundled snapshot, a GHZ-4 costed on it, and the used qubit whose T2 will drop."""
    from benchmarks_app.services import circuit_create, cost_options, estimate_get_or_create, ingest_calibration

    base = load_fake_calibration("sherbrooke")
    snap0, _ = ingest_calibration(base)
    circuit, _ = circuit_create(qasm=GHZ4, name="ghz4-watched")
    est0, _ = estimate_get_or_create(circuit, snap0, cost_options({}))
    t2 = {q: t for q, t in est0.report["usage"]["t2_s"]}
    victim = max(t2, key=t2.get)
    return base, circuit, victim, min(t2.values()) / 10


@pytest.mark.smoke
def test_watch_api_alert_once_per_crossing_and_visibility(db, api_client, django_capture_on_commit_callbacks,
                                                          settings):
    from django.contrib.auth.models import Group, User

    from benchmarks_app import services as bench_services
    from drift_app.models import Alert, WatchBaseline
    from drift_app.services import evaluate_snapshot

    def ingest_calibration(cal):
        """Ingest; the after-commit hook evaluates the watches (in-process when eager; here directly when the
        hook would queue it for a worker this test does not start)."""
        eager = settings.CELERY_TASK_ALWAYS_EAGER
        with django_capture_on_commit_callbacks(execute=eager):
            snap, created = bench_services.ingest_calibration(cal)
        if not eager:
            evaluate_snapshot(snap.pk)
        return snap, created

    alice = User.objects.create_user("alice-w", password="x")
    bob = User.objects.create_user("bob-w", password="x")
    carol = User.objects.create_user("carol-w", password="x")
    team = Group.objects.create(name="qlab")
    alice.groups.add(team)
    bob.groups.add(team)
    base, circuit, victim, low_t2 = _setup(api_client)

    api_client.force_authenticate(alice)
    body = {"name": "ghz4 on sherbrooke", "circuit": circuit.pk, "backend": "sherbrooke", "metric": "t_eff_s",
            "threshold_rel": 0.2, "team": "qlab"}
    # bad input: 400 naming the field, nothing written
    for bad, field in (({**body, "metric": "colour"}, "metric"), ({**body, "threshhold": 1}, "threshhold"),
                       ({**body, "threshold_rel": 0}, "threshold_rel"), ({**body, "backend": "nowhere"}, "backend"),
                       ({**body, "team": "other"}, "team"), ({**body, "profile": "nope"}, "profile"),
                       ({**body, "url": "ftp://x"}, "url")):
        r = api_client.post("/api/watches/", bad, format="json")
        assert r.status_code in (400, 404) and field in r.json(), (bad, r.json())
    Group.objects.create(name="other")
    r = api_client.post("/api/watches/", {**body, "team": "other"}, format="json")
    assert r.status_code == 400 and "team" in r.json()
    r = api_client.post("/api/watches/", body, format="json")
    assert r.status_code == 201, r.json()
    watch = r.json()
    assert len(watch["secret"]) == 64 and watch["backend_name"] == "ibm_sherbrooke"
    assert "secret" not in api_client.get(f"/api/watches/{watch['id']}/").json()  # shown once
    from drift_app.models import Watch

    assert Watch.objects.count() == 1

    snap1, _ = ingest_calibration(drifted(base, days=1, t2=(victim, low_t2)))
    alerts = api_client.get("/api/alerts/").json()["results"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["snapshot"] == snap1.pk and alert["direction"] == "worse" and alert["relative_change"] > 0.2
    assert alert["after"] == pytest.approx(alert["before"] * (1 + alert["relative_change"]))
    top = alert["drivers"][0]
    assert top["term"].startswith("decoherence")
    assert any(e.get("qubit") == victim and e.get("field") == "t2_s" for e in top["elements"])

    # the same snapshot again (a redelivered task) and a later snapshot with the same data: no second alert
    evaluate_snapshot(snap1.pk)
    snap2, _ = ingest_calibration(drifted(base, days=2, t2=(victim, low_t2)))
    assert Alert.objects.count() == 1
    assert WatchBaseline.objects.get().last_evaluated_snapshot_id == snap2.pk
    # recovery is "better": this watch only fires on "worse"
    ingest_calibration(drifted(base, days=3))
    assert Alert.objects.count() == 1

    # visibility: the team sees it, an outsider does not (404), anonymous callers must log in
    api_client.force_authenticate(bob)
    assert len(api_client.get("/api/alerts/").json()["results"]) == 1
    assert api_client.get(f"/api/watches/{watch['id']}/").status_code == 200
    assert api_client.delete(f"/api/watches/{watch['id']}/").status_code == 403  # not owner, not team admin
    api_client.force_authenticate(carol)
    assert api_client.get("/api/alerts/").json()["results"] == []
    assert api_client.get(f"/api/alerts/{alert['id']}/").status_code == 404
    assert api_client.get(f"/api/watches/{watch['id']}/").status_code == 404
    api_client.force_authenticate(None)
    assert api_client.get("/api/alerts/").status_code in (401, 403)
    # the dashboard page lists the alert for its team
    from django.test import Client

    web = Client()
    web.force_login(bob)
    page = web.get("/alerts/").content.decode()
    assert "ghz4-watched" in page and f"qubit {victim}" in page
    api_client.force_authenticate(alice)
    assert api_client.patch(f"/api/watches/{watch['id']}/", {"active": False}, format="json").json()["active"] is False
    assert api_client.patch(f"/api/watches/{watch['id']}/", {"colour": 1}, format="json").status_code == 400


@pytest.mark.worker
def test_webhook_signed_retried_after_500_and_not_duplicated_after_worker_restart(
        transactional_db, worker_env, celery_worker_factory, api_client, user):
    from benchmarks_app.services import ingest_calibration
    from drift_app import tasks
    from drift_app.models import Alert, WatchBaseline, WebhookDelivery

    worker_env.update({"HANAS_WEBHOOK_BACKOFF_S": "2"})
    base, circuit, victim, low_t2 = _setup(api_client)
    worker = celery_worker_factory(concurrency=2)  # two pool processes: the two evaluations below race
    api_client.force_authenticate(user)
    with Receiver(codes=[500]) as receiver:
        r = api_client.post("/api/watches/", {"circuit": circuit.pk, "backend": "sherbrooke", "metric": "t_eff_s",
                                              "threshold_rel": 0.2, "url": receiver.url}, format="json")
        assert r.status_code == 201, r.json()
        secret, watch_id = r.json()["secret"], r.json()["id"]
        snap1, _ = ingest_calibration(drifted(base, days=1, t2=(victim, low_t2)))  # commit -> worker evaluates
        tasks.evaluate_snapshot.delay(snap1.pk)  # and the same evaluation again, concurrently (a duplicate message)

        delivery = wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").first(), what="delivery")
        assert [q["answered"] for q in receiver.requests] == [500, 200]
        assert all(verify(secret, q) for q in receiver.requests)
        assert not verify("0" * 64, receiver.requests[0])  # a wrong secret does not verify
        assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
        assert {q["headers"]["X-Hanas-Delivery"] for q in receiver.requests} == {str(delivery.pk)}
        payload = json.loads(receiver.requests[1]["body"])
        assert payload["snapshot"]["id"] == snap1.pk and payload["direction"] == "worse"
        assert any(e.get("qubit") == victim and e.get("field") == "t2_s"
                   for e in payload["drivers"][0]["elements"])
        log = api_client.get(f"/api/watches/{watch_id}/deliveries/").json()["results"][0]["attempt_log"]
        assert [(a["number"], a["status_code"], a["ok"]) for a in log] == [(1, 500, False), (2, 200, True)]
        assert Alert.objects.count() == 1

        # the worker dies and comes back; the evaluation and the delivery are re-sent (as redelivered
        # messages would be): nothing is evaluated or POSTed twice
        worker.kill()
        celery_worker_factory()
        tasks.evaluate_snapshot.delay(snap1.pk).get(timeout=120)
        assert tasks.deliver_webhook.delay(str(delivery.pk)).get(timeout=60)["status"] == "delivered"
        assert len(receiver.requests) == 2 and Alert.objects.count() == 1

        # a later snapshot with the same drift: the crossing already fired, no second alert
        snap2, _ = ingest_calibration(drifted(base, days=2, t2=(victim, low_t2)))
        wait_for(lambda: WatchBaseline.objects.filter(last_evaluated_snapshot=snap2).exists(), what="evaluation")
        assert Alert.objects.count() == 1 and len(receiver.requests) == 2


@pytest.mark.worker
def test_pending_retry_survives_a_worker_kill(transactional_db, worker_env, celery_worker_factory, api_client, user):
    """The first POST fails; the worker is SIGKILLed while the retry waits (its ETA message dies with it, until
    the broker's visibility timeout); the beat's overdue sweep queues it again and a new worker delivers it once."""
    from benchmarks_app.services import ingest_calibration
    from drift_app import tasks
    from drift_app.models import DeliveryAttempt, WebhookDelivery

    worker_env.update({"HANAS_WEBHOOK_BACKOFF_S": "3", "HANAS_WEBHOOK_REDISPATCH_AFTER_S": "1"})
    base, circuit, victim, low_t2 = _setup(api_client)
    worker = celery_worker_factory()
    api_client.force_authenticate(user)
    with Receiver(codes=[503]) as receiver:
        r = api_client.post("/api/watches/", {"circuit": circuit.pk, "backend": "sherbrooke", "metric": "t_eff_s",
                                              "threshold_rel": 0.2, "url": receiver.url}, format="json")
        secret = r.json()["secret"]
        ingest_calibration(drifted(base, days=1, t2=(victim, low_t2)))
        wait_for(lambda: DeliveryAttempt.objects.filter(number=1).exists(), what="first attempt")
        worker.kill()  # the retry message (ETA in 3 s) was held, unacknowledged, by the dead worker
        celery_worker_factory()
        pending = WebhookDelivery.objects.get()
        assert pending.status == "pending" and pending.attempts == 1
        time.sleep(max((pending.next_attempt_at - timezone_now()).total_seconds(), 0) + 1.5)
        queued = tasks.redispatch_due_deliveries.delay().get(timeout=60)["queued"]  # what beat runs every minute
        assert queued == [str(pending.pk)]
        delivery = wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").first(), timeout=60,
                            what="delivery after restart")
        # the sweep again, and the same delivery re-sent: nothing is POSTed twice
        assert tasks.redispatch_due_deliveries.delay().get(timeout=60)["queued"] == []
        assert tasks.deliver_webhook.delay(str(delivery.pk)).get(timeout=60)["status"] == "delivered"
        time.sleep(2)
        assert [q["answered"] for q in receiver.requests] == [503, 200]
        assert all(verify(secret, q) for q in receiver.requests)
        assert delivery.attempts == 2 and delivery.attempt_log.count() == 2


def timezone_now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.smoke
def test_reference_suite_watch_on_a_processor_family_and_a_profiled_wallclock_watch(
        db, api_client, user, settings, tmp_path, django_capture_on_commit_callbacks):
    import dataclasses

    from benchmarks_app import services as bench_services
    from drift_app.models import Alert
    from drift_app.services import evaluate_snapshot

    from profiles_app.models import ExecutionProfile

    ExecutionProfile.objects.create(name="mylab", version=1, visibility="public", c_job_s=100.0, source="test",
                                    constants={"name": "mylab", "version": 1, "c_job_s": 100.0, "c_circuit_s": 0.0,
                                               "c_instruction_s": 0.0})

    def ingest(cal):
        eager = settings.CELERY_TASK_ALWAYS_EAGER
        with django_capture_on_commit_callbacks(execute=eager):
            snap, _ = bench_services.ingest_calibration(cal)
        if not eager:
            evaluate_snapshot(snap.pk)
        return snap

    torino = load_fake_calibration("torino")
    ingest(torino)
    ghz, _ = bench_services.circuit_create(qasm=GHZ4, name="ghz4-ref", is_reference=True)
    qft, _ = bench_services.circuit_create(qasm=GHZ4.replace("cx q[2],q[3];", "cx q[0],q[3];"), name="ghz4b-ref",
                                           is_reference=True)
    api_client.force_authenticate(user)
    r = api_client.post("/api/watches/", {"target": "reference_suite", "processor_family": "Heron",
                                          "metric": "log_esp", "threshold_rel": 0.03}, format="json")
    assert r.status_code == 201, r.json()
    assert api_client.post("/api/watches/", {"target": "reference_suite", "circuit": ghz.pk, "backend": "torino",
                                             "metric": "log_esp", "threshold_rel": 0.5},
                           format="json").status_code == 400
    r = api_client.post("/api/watches/", {"circuit": ghz.pk, "backend": "torino", "metric": "wallclock_s",
                                          "profile": "mylab", "threshold_rel": 0.001, "direction": "either"},
                        format="json")
    assert r.status_code == 201, r.json()

    # every CZ three times worse and a doubled repetition delay on Torino; Fez (also Heron) arrives for the first
    # time: nothing to compare with there
    worse = dataclasses.replace(torino, calibrated_at=torino.calibrated_at + dt.timedelta(days=1),
                                rep_delay_s=torino.rep_delay_s * 2, gates=tuple(
                                    dataclasses.replace(g, error=min(g.error * 3, 0.9))
                                    if g.name == "cz" and g.error is not None and g.error < 0.3 else g
                                    for g in torino.gates))
    snap1 = ingest(worse)
    ingest(load_fake_calibration("fez"))
    esp = Alert.objects.filter(metric="log_esp").order_by("circuit_id")
    assert [a.circuit_id for a in esp] == [ghz.pk, qft.pk] and all(a.snapshot_id == snap1.pk for a in esp)
    for a in esp:
        assert a.direction == "worse" and a.after < a.before
        assert a.drivers[0]["term"].startswith("2q gate errors") and a.drivers[0]["elements"][0]["kind"] == "coupler"
    wall = Alert.objects.get(metric="wallclock_s")
    base_report = wall.baseline_estimate.report
    assert wall.before == pytest.approx(100.0 + base_report["shots"] * base_report["t_shot_s"])
    assert wall.after == pytest.approx(100.0 + wall.estimate.report["shots"] * wall.estimate.report["t_shot_s"])
    assert wall.drivers[0]["term"].startswith("repetition delay")
