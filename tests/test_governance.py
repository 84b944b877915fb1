"""Governance (issue 17, item 8): snapshot provenance and visibility (uploads by non-staff are their team's
until staff promote them; hidden/deleted snapshots drop out of "latest" and leaderboards), strict backend names
from uploads, error texts without raw markup, search datasets restricted to bundled names or uploaded ids, and
per-owner circuit aliases."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from cost_engine.calibration import load_fake_calibration

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'


def _client(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def people(db):
    User = get_user_model()
    red, blue = Group.objects.create(name="red"), Group.objects.create(name="blue")
    bob = User.objects.create_user("bob", password="pw-bob-12345")
    carol = User.objects.create_user("carol", password="pw-carol-12345")
    alice = User.objects.create_user("alice", password="pw-alice-12345")
    staff = User.objects.create_user("root", password="pw-root-12345", is_staff=True)
    bob.groups.add(red)
    carol.groups.add(red)
    alice.groups.add(blue)
    return {"bob": bob, "carol": carol, "alice": alice, "staff": staff, "red": red}


def _synthetic_lima(days_ahead=3650, scale=0.5):
    """Fake lima moved ten years ahead with halved T1: a synthetic upload that would be "latest"."""
    cal = load_fake_calibration("lima")
    qubits = tuple(dataclasses.replace(q, t1_s=q.t1_s * scale) for q in cal.qubits)
    return dataclasses.replace(cal, qubits=qubits, source="upload",
                               calibrated_at=cal.calibrated_at + dt.timedelta(days=days_ahead))


@pytest.fixture
def lima(people):
    from benchmarks_app import services

    services.ingest_fake(["lima"])
    from benchmarks_app.models import CalibrationSnapshot

    return CalibrationSnapshot.objects.get(backend__name="ibmq_lima")


def _latest_id(client, name="ibmq_lima"):
    r = client.get(f"/api/backends/{name}/")
    assert r.status_code == 200, r.content
    return r.json()["latest_snapshot"]["id"]


@pytest.mark.smoke
def test_upload_by_non_staff_is_team_only_until_promoted_and_drops_out_when_hidden(lima, people):
    from benchmarks_app.models import CalibrationSnapshot

    bob, carol, alice, staff = (_client(people[k]) for k in ("bob", "carol", "alice", "staff"))
    r = bob.post("/api/calibrations/upload/", _synthetic_lima().to_dict(), format="json")
    assert r.status_code == 201, r.content
    up = r.json()
    assert (up["uploader"], up["source_kind"], up["visibility"], up["team"]) == ("bob", "upload", "team", "red")
    ingested = CalibrationSnapshot.objects.get(pk=lima.pk)
    assert (ingested.uploader, ingested.source_kind, ingested.visibility) == (None, "fake", "public")

    # the synthetic upload is "latest" for its team only; everyone else keeps the ingested snapshot
    assert _latest_id(bob) == _latest_id(carol) == up["id"]
    assert _latest_id(alice) == _latest_id(_client()) == lima.pk
    assert [s["id"] for s in alice.get("/api/backends/ibmq_lima/snapshots/").json()["results"]] == [lima.pk]
    assert alice.get(f"/api/backends/ibmq_lima/snapshots/{up['id']}/").status_code == 404
    assert len(alice.get("/api/backends/ibmq_lima/trends/?metric=t1_median").json()["points"]) == 1
    assert alice.get("/api/backends/").json()["results"][0]["snapshot_count"] == 1

    # estimates on "latest" and the circuit leaderboard follow the caller's view
    est_alice = alice.post("/api/estimates/", {"qasm": BELL, "backend": "ibmq_lima"}, format="json").json()
    est_bob = bob.post("/api/estimates/", {"qasm": BELL, "backend": "ibmq_lima"}, format="json").json()
    assert (est_alice["snapshot"], est_bob["snapshot"]) == (lima.pk, up["id"])
    assert alice.get("/api/leaderboards/circuits/?backend=ibmq_lima").json()["snapshot_id"] == lima.pk
    board = alice.get(f"/api/leaderboards/backends/?circuit={est_alice['circuit']}").json()
    assert [row["snapshot_id"] for row in board["rows"]] == [lima.pk]
    assert {e["id"] for e in alice.get("/api/estimates/").json()["results"]} == {est_alice["id"]}
    assert alice.get(f"/api/estimates/{est_bob['id']}/").status_code == 404
    r = alice.post("/api/estimates/", {"qasm": BELL, "backend": "ibmq_lima", "snapshot": str(up["id"])}, format="json")
    assert r.status_code == 404
    assert alice.get(f"/api/backends/ibmq_lima/diff/?from={lima.pk}&to={up['id']}").status_code == 404

    # only staff promote; then everyone sees it
    assert bob.post(f"/api/backends/ibmq_lima/snapshots/{up['id']}/promote/").status_code == 403
    assert alice.post(f"/api/backends/ibmq_lima/snapshots/{up['id']}/hide/").status_code == 404
    r = staff.post(f"/api/backends/ibmq_lima/snapshots/{up['id']}/promote/")
    assert r.status_code == 200 and r.json()["visibility"] == "public"
    assert _latest_id(alice) == up["id"]

    # a teammate may not hide it; the uploader may, and it drops out for everyone else
    assert carol.post(f"/api/backends/ibmq_lima/snapshots/{up['id']}/hide/").status_code == 403
    r = bob.post(f"/api/backends/ibmq_lima/snapshots/{up['id']}/hide/", {"hidden": True}, format="json")
    assert r.status_code == 200 and r.json()["hidden"] is True
    assert _latest_id(alice) == _latest_id(carol) == lima.pk
    assert alice.get(f"/api/leaderboards/backends/?circuit={est_alice['circuit']}").json()["rows"][0][
        "snapshot_id"] == lima.pk
    assert _latest_id(bob) == _latest_id(staff) == up["id"]

    # delete: staff or the uploader only; estimates go with it
    assert carol.delete(f"/api/backends/ibmq_lima/snapshots/{up['id']}/").status_code == 404  # hidden from her
    assert alice.delete(f"/api/backends/ibmq_lima/snapshots/{lima.pk}/").status_code == 403
    assert bob.delete(f"/api/backends/ibmq_lima/snapshots/{up['id']}/").status_code == 204
    assert not CalibrationSnapshot.objects.filter(pk=up["id"]).exists()
    assert _latest_id(bob) == lima.pk


@pytest.mark.smoke
def test_upload_of_a_new_backend_is_invisible_outside_the_team_and_cannot_change_a_public_backend(lima, people):
    from benchmarks_app.models import Backend

    bob, alice = _client(people["bob"]), _client(people["alice"])
    own = dataclasses.replace(_synthetic_lima(), backend_name="red_device")
    assert bob.post("/api/calibrations/upload/", own.to_dict(), format="json").status_code == 201
    assert bob.get("/api/backends/red_device/").status_code == 200
    assert alice.get("/api/backends/red_device/").status_code == 404
    assert [b["name"] for b in alice.get("/api/backends/").json()["results"]] == ["ibmq_lima"]
    assert "red_device" not in alice.get("/api/backends/nope/").json()["detail"]

    # a restricted upload under a public name with other structure leaves the shared backend's facts alone
    before = Backend.objects.get(name="ibmq_lima").coupling_map
    cal = _synthetic_lima(days_ahead=4000)
    wider = dataclasses.replace(cal, coupling_map=tuple(cal.coupling_map) + ((0, 4), (4, 0)))
    assert bob.post("/api/calibrations/upload/", wider.to_dict(), format="json").status_code == 201
    assert Backend.objects.get(name="ibmq_lima").coupling_map == before


@pytest.mark.smoke
def test_backend_names_from_uploads_are_strict_and_errors_never_echo_markup(people):
    from benchmarks_app.models import Backend, CalibrationSnapshot

    bob = _client(people["bob"])
    for bad in ("<script>alert(1)</script>", "a b", "x" * 65, "fez/../../etc", ""):
        body = dataclasses.replace(_synthetic_lima(), backend_name=bad).to_dict()
        r = bob.post("/api/calibrations/upload/", body, format="json")
        assert r.status_code == 400, (bad, r.content)
        assert "backend_name" in r.json(), r.json()
        assert "<" not in r.content.decode()
    assert Backend.objects.count() == CalibrationSnapshot.objects.count() == 0
    r = bob.get("/api/backends/<script>alert(1)/")
    assert r.status_code == 404 and "<script>" not in r.content.decode() and "&lt;script>alert(1)" in r.json()["detail"]
    r = bob.post("/api/estimates/", {"qasm": BELL, "backend": "x", "<b>bold</b>": 1}, format="json")
    assert r.status_code == 400 and "<b>" not in r.content.decode()


@pytest.mark.smoke
def test_staff_uploads_are_public_and_a_public_ingest_of_restricted_data_makes_it_public(people):
    from benchmarks_app import services

    staff, alice = _client(people["staff"]), _client(people["alice"])
    r = staff.post("/api/calibrations/upload/", _synthetic_lima().to_dict(), format="json")
    assert r.status_code == 201 and r.json()["visibility"] == "public" and r.json()["uploader"] == "root"
    assert _latest_id(alice) == r.json()["id"]

    # bob uploads the fake quito data before it is ingested: the ingest must not stay hidden behind his copy
    bob = _client(people["bob"])
    quito = load_fake_calibration("quito")
    assert bob.post("/api/calibrations/upload/", quito.to_dict(), format="json").json()["visibility"] == "team"
    assert alice.get("/api/backends/ibmq_quito/").status_code == 404
    again = alice.post("/api/calibrations/upload/", quito.to_dict(), format="json")  # same data, another team
    assert again.status_code == 409 and "bob" not in again.content.decode()
    services.ingest_fake(["quito"])
    assert alice.get("/api/backends/ibmq_quito/").status_code == 200


@pytest.mark.smoke
def test_a_deduplicated_circuit_keeps_each_owners_name_and_tags(lima, people):
    bob, alice = _client(people["bob"]), _client(people["alice"])
    r1 = bob.post("/api/circuits/", {"qasm": BELL, "name": "bob-bell", "tags": ["mine"]}, format="json")
    r2 = alice.post("/api/circuits/", {"qasm": BELL, "name": "alice-bell", "tags": ["entangler", "demo"]},
                    format="json")
    assert (r1.status_code, r2.status_code) == (201, 200)
    cid = r1.json()["id"]
    assert r2.json()["id"] == cid
    assert (r1.json()["name"], r1.json()["tags"]) == ("bob-bell", ["mine"])
    assert (r2.json()["name"], r2.json()["tags"]) == ("alice-bell", ["entangler", "demo"])
    assert bob.get(f"/api/circuits/{cid}/").json()["name"] == "bob-bell"
    got = alice.get(f"/api/circuits/{cid}/").json()
    assert (got["name"], got["tags"]) == ("alice-bell", ["entangler", "demo"])
    assert [c["name"] for c in alice.get("/api/circuits/").json()["results"]] == ["alice-bell"]

    est = alice.post("/api/estimates/", {"circuit": cid, "backend": "ibmq_lima"}, format="json").json()
    assert est["circuit_name"] == "alice-bell"
    assert bob.get(f"/api/estimates/{est['id']}/").json()["circuit_name"] == "bob-bell"
    assert [e["circuit_name"] for e in bob.get("/api/estimates/").json()["results"]] == ["bob-bell"]
    assert alice.get("/api/leaderboards/circuits/?backend=ibmq_lima").json()["rows"][0]["circuit_name"] == "alice-bell"
    assert bob.get(f"/api/leaderboards/backends/?circuit={cid}").json()["circuit_name"] == "bob-bell"
    # a user who never posted it sees the first poster's name
    carol = _client(people["carol"])
    assert carol.get(f"/api/circuits/{cid}/").json()["name"] == "bob-bell"


# ------------------------------------------------------------------------------- search datasets
TINY_SEARCH = {"backend": "ibmq_lima", "space": {"min_qubits": 2, "max_qubits": 2, "max_layers": 1},
               "population": 4, "generations": 1, "epochs": 1, "seed": 3}


def _iris_csv(rows=None) -> bytes:
    from sklearn.datasets import load_iris

    data = load_iris()
    names = ["setosa", "versicolor", "virginica"]
    lines = ["sepal_l,sepal_w,species,petal_l,petal_w"]  # the label in the middle, by name
    for x, y in list(zip(data.data, data.target))[: rows or len(data.target)]:
        lines.append(f"{x[0]},{x[1]},{names[y]},{x[2]},{x[3]}")
    return ("\n".join(lines) + "\n").encode()


def _upload(client, raw, name="iris.csv", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/api/datasets/", {"file": SimpleUploadedFile(name, raw, content_type="text/csv"), **fields},
                       format="multipart")


@pytest.mark.smoke
def test_search_dataset_is_a_bundled_name_or_a_visible_upload_never_a_server_path(lima, people, tmp_path):
    from search_app.models import SearchRun

    bob, alice = _client(people["bob"]), _client(people["alice"])
    real = tmp_path / "exists.csv"
    real.write_text("1,2,0\n" * 20)
    answers = []
    for path in (str(real), str(tmp_path / "missing.csv"), "/etc/passwd", "hanas_platform/settings.py", "../x.npz"):
        r = bob.post("/api/searches/", {"config": {**TINY_SEARCH, "dataset": path}}, format="json")
        assert r.status_code == 400 and "config.dataset" in r.json(), r.content
        answers.append(r.json()["detail"])
    assert len(set(answers)) == 1  # the answer does not tell which files exist
    assert SearchRun.objects.count() == 0

    r = _upload(bob, _iris_csv(), name="flowers", label="species")
    assert r.status_code == 201, r.content
    ds = r.json()
    assert (ds["ref"], ds["team"], ds["n_samples"], ds["n_features"], ds["n_classes"], ds["label_column"]) == (
        f"upload:{ds['id']}", "red", 150, 4, 3, "species")
    assert ds["feature_names"] == ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    # visible to the team, not to others
    assert _client(people["carol"]).get(f"/api/datasets/{ds['id']}/").status_code == 200
    assert alice.get(f"/api/datasets/{ds['id']}/").status_code == 404
    assert alice.get("/api/datasets/").json()["results"] == []
    r = alice.post("/api/searches/", {"config": {**TINY_SEARCH, "dataset": ds["ref"]}}, format="json")
    assert r.status_code == 400 and "config.dataset" in r.json()

    # a search on it runs (eagerly here) and trains on the uploaded data
    r = bob.post("/api/searches/", {"config": {**TINY_SEARCH, "dataset": ds["id"]}}, format="json")
    assert r.status_code == 201, r.content
    run = SearchRun.objects.get(pk=r.json()["id"])
    assert run.dataset == ds["ref"]
    from search_app import services

    while True:  # the loop as the Celery tasks run it, in this process
        state, todo = services.advance(run.pk)
        if state not in ("dispatch", "redispatch", "again"):
            break
        for t in todo:
            services.evaluate_and_record(run.pk, t["generation"], t["genome"])
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.candidates.count() >= 1 and all(0 <= c.accuracy <= 1 for c in run.candidates.all())
    assert run.reference_point  # computed from the uploaded dataset's model size
    # a dataset in use cannot be deleted; another user's never
    assert alice.delete(f"/api/datasets/{ds['id']}/").status_code == 404
    assert bob.delete(f"/api/datasets/{ds['id']}/").status_code == 409


@pytest.mark.smoke
def test_dataset_upload_limits_and_bad_files(people, settings):
    from search_app.models import Dataset

    bob = _client(people["bob"])
    settings.HANAS_MAX_DATASET_BYTES = 1000
    r = _upload(bob, _iris_csv())
    assert r.status_code == 413 and "file" in r.json()
    settings.HANAS_MAX_DATASET_BYTES = 2 * 1024 * 1024
    cases = [
        (b"a,b\n1,x\n", {}, "file"),  # too few samples
        (_iris_csv(30), {"label": "colour"}, "label"),  # no such column
        (_iris_csv(30), {"label": "9"}, "label"),  # index out of range
        (_iris_csv(40), {}, "file"),  # default label: the last column (petal_w) -> 'species' is not a number
        (b"\xff\xfe\x00bad", {}, "file"),
        (_iris_csv(40).replace(b"5.1,", b"inf,", 1), {"label": "species"}, "file"),
        (_iris_csv(40), {"label": "species", "colour": "red"}, "colour"),
        (_iris_csv(40), {"label": "species", "team": "blue"}, "team"),  # not bob's team
    ]
    for raw, fields, field in cases:
        r = _upload(bob, raw, **fields)
        assert r.status_code == 400 and field in r.json(), (fields, r.content)
    assert Dataset.objects.count() == 0
    assert _client().get("/api/datasets/").status_code in (401, 403)
    headerless = b"".join(f"{i % 7},{i % 3},{i % 2}\n".encode() for i in range(30))
    r = _upload(bob, headerless)
    assert r.status_code == 201 and r.json()["label_column"] == "2" and r.json()["n_classes"] == 2


@pytest.mark.smoke
def test_admin_action_promotes_an_upload(lima, people):
    from django.test import Client

    from benchmarks_app.models import CalibrationSnapshot

    bob = _client(people["bob"])
    up = bob.post("/api/calibrations/upload/", _synthetic_lima().to_dict(), format="json").json()
    admin = get_user_model().objects.create_superuser("boss", password="pw-boss-12345")
    web = Client()
    web.force_login(admin)
    r = web.post("/admin/benchmarks_app/calibrationsnapshot/", {"action": "promote", "_selected_action": [up["id"]]})
    assert r.status_code == 302
    assert CalibrationSnapshot.objects.get(pk=up["id"]).visibility == "public"
    assert _latest_id(_client(people["alice"])) == up["id"]


@pytest.mark.smoke
def test_circuit_name_filter_uses_the_callers_alias(people):
    bob, alice = _client(people["bob"]), _client(people["alice"])
    cid = bob.post("/api/circuits/", {"qasm": BELL, "name": "bob-bell"}, format="json").json()["id"]
    alice.post("/api/circuits/", {"qasm": BELL, "name": "entangler"}, format="json")
    assert [c["id"] for c in alice.get("/api/circuits/?name=entang").json()["results"]] == [cid]
    assert alice.get("/api/circuits/?name=bob").json()["results"] == []
    assert [c["id"] for c in bob.get("/api/circuits/?name=bob").json()["results"]] == [cid]
    assert _client(people["carol"]).get("/api/circuits/?name=entang").json()["results"] == []


@pytest.mark.worker
def test_a_search_on_an_uploaded_dataset_runs_on_real_workers(people, worker_env, celery_worker_factory):
    """The workers read the uploaded dataset from the database (no file is shared with them)."""
    import time

    from benchmarks_app import services as bench_services
    from search_app.models import SearchRun

    bench_services.ingest_fake(["lima"])
    bob = _client(people["bob"])
    ds = _upload(bob, _iris_csv(), label="species").json()
    celery_worker_factory(concurrency=1)
    r = bob.post("/api/searches/", {"config": {**TINY_SEARCH, "dataset": ds["ref"], "generations": 2}},
                 format="json")
    assert r.status_code == 201, r.content
    run = SearchRun.objects.get(pk=r.json()["id"])
    deadline = time.monotonic() + 300
    while run.status in SearchRun.ACTIVE:
        assert time.monotonic() < deadline, f"run still {run.status}"
        time.sleep(0.5)
        run.refresh_from_db()
    assert run.status == SearchRun.Status.SUCCEEDED, run.error
    assert run.dataset == ds["ref"] and run.generation == 2 and run.candidates.count() >= 2
