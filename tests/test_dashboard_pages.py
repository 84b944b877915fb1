"""Dashboard pages through Django's test client: every page answers, references only the platform's own assets
(no CDN), and the Plotly bundle is served byte for byte from the pinned plotly package."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGES = ["/", "/backends/", "/backends/{backend}/", "/backends/sherbrooke/", "/circuits/", "/circuits/{circuit}/",
         "/searches/", "/searches/{run}/", "/leaderboards/architectures/",
         "/leaderboards/architectures/?dataset=iris&budget_s=10&accuracy_floor=0.5", "/alerts/"]


@pytest.fixture
def stored(db, user):
    """One real bundled calibration, one stored circuit and one public run row: the pages' server-side parts."""
    from qiskit import QuantumCircuit, qasm2

    from benchmarks_app import services as bench_services
    from cost_engine.calibration import load_fake_calibration

    snapshot, _ = bench_services.ingest_calibration(load_fake_calibration("sherbrooke"))
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.measure_all()
    circuit, _ = bench_services.circuit_create(qasm=qasm2.dumps(qc), name="ghz-3")
    run = _make_run(user, "public")
    return {"backend": snapshot.backend.name, "circuit": circuit.pk, "run": run.pk}

ASSET_RE = re.compile(r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*"([^"]*)"', re.I)


def _body(resp) -> bytes:
    return b"".join(resp.streaming_content) if resp.streaming else resp.content


def _make_run(owner, visibility="public", **kw):
    # Model rows written directly: these tests check what pages show, not the search loop (tested elsewhere).
    from search_app.models import SearchRun

    return SearchRun.objects.create(owner=owner, visibility=visibility, config={"population": 4}, dataset="iris",
                                    backend_name="ibm_sherbrooke", generations_total=2, name=kw.pop("name", "r"), **kw)


@pytest.mark.smoke
@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_page_answers_and_uses_only_own_assets(client, stored, path):
    path = path.format(**stored)
    resp = client.get(path)
    assert resp.status_code == 200, path
    html = resp.content.decode()
    assert "<html" in html and "plotly.min.js" in html
    assets = ASSET_RE.findall(html)
    assert assets, "the page references no assets at all"
    for url in assets:
        assert not re.match(r"^(https?:)?//", url), f"{path} references an external asset {url}"
        if url.startswith("/static/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert _body(asset), url
    assert not re.search(r"""(src|href)=["']https?://""", html), "no external src/href at all"


@pytest.mark.smoke
@pytest.mark.django_db
def test_plotly_bundle_served_from_the_package(client):
    import plotly

    package_file = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    resp = client.get("/static/hanas/vendor/plotly.min.js")
    assert resp.status_code == 200
    assert "javascript" in resp["Content-Type"]
    body = _body(resp)
    assert body == package_file.read_bytes()
    assert len(body) > 1_000_000  # the full offline bundle, not a stub


@pytest.mark.smoke
def test_plotly_bundle_is_found_and_collected(tmp_path, settings):
    from django.contrib.staticfiles import finders
    from django.core.management import call_command

    assert finders.find("hanas/vendor/plotly.min.js")
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", "-v0")
    assert (tmp_path / "hanas" / "vendor" / "plotly.min.js").stat().st_size > 1_000_000
    assert (tmp_path / "hanas" / "dashboard.js").exists()


@pytest.mark.smoke
@pytest.mark.django_db
def test_search_pages_respect_visibility(client, user):
    from django.contrib.auth import get_user_model

    bob = get_user_model().objects.create_user(username="bob", password="pw-bob-12345")
    public = _make_run(bob, "public", name="bob-public")
    private = _make_run(bob, "private", name="bob-private")
    assert client.get(f"/searches/{public.pk}/").status_code == 200
    assert client.get(f"/searches/{private.pk}/").status_code == 404
    listing = client.get("/searches/").content.decode()
    assert "bob-public" in listing and "bob-private" not in listing
    home = client.get("/").content.decode()
    assert "bob-public" in home and "bob-private" not in home
    client.force_login(bob)
    assert client.get(f"/searches/{private.pk}/").status_code == 200
    assert "bob-private" in client.get("/searches/").content.decode()


@pytest.mark.smoke
@pytest.mark.django_db
def test_search_detail_page_config_points_at_the_api(client, user):
    import json

    run = _make_run(user, "public")
    html = client.get(f"/searches/{run.pk}/").content.decode()
    cfg = json.loads(re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
                     .group(1))
    assert cfg["api"]["run"] == f"/api/searches/{run.pk}/"
    for key in ("run", "candidates", "pareto"):
        assert client.get(cfg["api"][key]).status_code == 200, key
    assert client.get("/searches/999999/").status_code == 404


@pytest.mark.smoke
@pytest.mark.django_db
def test_unknown_backend_and_circuit_pages_are_404(client):
    assert client.get("/backends/no_such_device/").status_code == 404
    assert client.get("/circuits/999999/").status_code == 404


@pytest.mark.smoke
@pytest.mark.django_db
def test_backend_and_circuit_page_configs_point_at_existing_endpoints(client, stored):
    import json

    def config(path):
        html = client.get(path).content.decode()
        return json.loads(re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html,
                                    re.S).group(1))

    cfg = config("/backends/sherbrooke/")  # short names resolve like the API's
    assert cfg["name"] == stored["backend"] == "ibm_sherbrooke"
    assert client.get(cfg["api"]["snapshots"]).json()["count"] == 1
    points = client.get(cfg["api"]["trends"], {"metric": "t1_median"}).json()["points"]
    assert len(points) == 1 and points[0]["value"] > 0
    for metric, _ in cfg["coherence_metrics"] + cfg["error_metrics"]:
        assert client.get(cfg["api"]["trends"], {"metric": metric}).status_code == 200, metric
    cfg = config(f"/circuits/{stored['circuit']}/")
    assert cfg["num_qubits"] == 3 and cfg["metrics"]
    for metric, _ in cfg["metrics"]:
        resp = client.get(cfg["api"]["leaderboard"], {"circuit": stored["circuit"], "metric": metric})
        assert resp.status_code == 200, (metric, resp.content)
