"""The dashboard in a real browser: headless Chromium (Debian's package) driven by selenium against
pytest-django's live server.

Every page is opened, we wait until every chart container has been drawn by Plotly (a non-empty
``svg.main-svg`` inside ``.js-plotly-plot``) or, where there is honestly no data, shows its "no data" box;
the browser log must hold no SEVERE entry (JS errors, failed requests), and a screenshot goes to
test-artifacts/screenshots/<page>.png.

Data is real: calibration snapshots bundled with qiskit-ibm-runtime's fake provider, ingested through
benchmarks_app.services, and a small real search run (iris, population 4, 2 generations, 1 epoch) created
through search_app.services.search_create(start=False) and driven *in this process* with
search_app.services.advance / evaluate_and_record while the page polls. That exercises the same loop the
Celery tasks run, and works identically on the embedded default and under scripts/run_tests.sh
(PostgreSQL + Redis), without needing a worker process.

Skipped only when Chromium/ChromeDriver are missing and we are not under scripts/run_tests.sh
(which installs them); there a missing browser is a failure.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _under_run_tests() -> bool:
    from tests.conftest import _real_services

    return _real_services()


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if _under_run_tests():
            pytest.fail("scripts/run_tests.sh must provide /usr/bin/chromium and /usr/bin/chromedriver")
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver, "
                    "or run scripts/run_tests.sh which installs them)")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a driver or browser
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hanas-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={profile}", "--window-size=1400,1000", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def db_guard(live_server):
    """On the embedded SQLite default the live server thread shares the test thread's in-memory database
    connection, and SQLite cannot serve both at once ("database table is locked"). There, requests and the
    test thread's database work take turns on one lock. PostgreSQL (scripts/run_tests.sh) needs nothing."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield contextlib.nullcontext()
        return
    lock = threading.RLock()
    httpd = live_server.thread.httpd
    app = httpd.get_app()

    def one_at_a_time(environ, start_response):
        with lock:
            return app(environ, start_response)

    httpd.set_app(one_at_a_time)
    try:
        yield lock
    finally:
        httpd.set_app(app)


# --------------------------------------------------------------------------------------------- helpers
CHART_STATE_JS = """
return Array.from(document.querySelectorAll('.chart')).map(el => ({
  id: el.id, state: el.dataset.state || '',
  svg: el.querySelectorAll('.js-plotly-plot svg.main-svg, .js-plotly-plot canvas').length
       + (el.classList.contains('js-plotly-plot') ? el.querySelectorAll('svg.main-svg, canvas').length : 0),
  drawn: el.querySelectorAll('svg.main-svg .plot > *, svg.main-svg .barlayer, svg.main-svg .scatterlayer').length,
  traces: (el.data || []).length,
  text: el.innerText.slice(0, 200)}));
"""


def _wait(cond, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _screenshot(driver, name: str) -> Path:
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 1000)")
    driver.set_window_size(1400, min(int(height) + 40, 4000))
    time.sleep(0.3)  # Plotly's responsive resize
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def open_page(driver, base_url: str, path: str, name: str, *, charts=(), empty=(), timeout: float = 45) -> list:
    """Open ``path``, wait until the page script finished and every chart container is drawn (or honestly
    empty); ``charts`` must be drawn with data, ``empty`` must show their no-data box. No SEVERE log entry."""
    driver.get_log("browser")  # drop entries from earlier pages
    driver.get(base_url + path)
    _wait(lambda: driver.execute_script("return document.body.dataset.ready === '1'"), timeout,
          f"{path}: page script to finish")
    states = _wait(lambda: (lambda s: [s] if all(c["state"] in ("chart", "empty", "error") for c in s) else None)(
        driver.execute_script(CHART_STATE_JS)), timeout, f"{path}: every chart container to render")[0]
    by_id = {c["id"]: c for c in states}
    shot = _screenshot(driver, name)
    severe = _severe(driver)
    assert not severe, f"{path}: browser log has SEVERE entries: {severe}"
    for c in states:
        assert c["state"] != "error", f"{path}: chart {c['id']} failed: {c['text']}"
        if c["state"] == "chart":
            assert c["svg"] > 0 and c["drawn"] > 0 and c["traces"] > 0, f"{path}: chart {c['id']} is blank: {c}"
    for cid in charts:
        assert by_id[cid]["state"] == "chart", f"{path}: #{cid} should show data: {by_id[cid]} (see {shot})"
    for cid in empty:
        assert by_id[cid]["state"] == "empty", f"{path}: #{cid} should say 'no data': {by_id[cid]}"
    return states


# ------------------------------------------------------------------------------------------ the data
def _ingest_real_calibrations() -> dict:
    """sherbrooke's bundled snapshot plus an earlier dated variant (so trends have two points), and torino's.

    The variant is derived honestly from real data: the same device description and gates as sherbrooke's
    snapshot, dated seven days earlier, with the per-qubit properties (T1, T2, readout) of the bundled
    ibm_brisbane snapshot, another 127-qubit Eagle device. Every number in it was measured by IBM; only the
    combination and the date are ours, and its ``source``/``notes`` say so."""
    from benchmarks_app import services as bench_services
    from cost_engine.calibration import load_fake_calibration

    sherbrooke = load_fake_calibration("sherbrooke")
    brisbane = load_fake_calibration("brisbane")
    assert sherbrooke.num_qubits == brisbane.num_qubits == 127
    variant = dataclasses.replace(
        sherbrooke, calibrated_at=sherbrooke.calibrated_at - dt.timedelta(days=7), qubits=brisbane.qubits,
        source=f"{sherbrooke.source} (test variant: qubit properties of ibm_brisbane)",
        notes=tuple(sherbrooke.notes) + ("test variant: dated 7 days earlier, per-qubit properties of the "
                                         "bundled ibm_brisbane snapshot",))
    out = {}
    for cal in (variant, sherbrooke, load_fake_calibration("torino")):
        out.setdefault(cal.backend_name, []).append(bench_services.ingest_calibration(cal))
    return out


def _drive_search(run_id: int, guard, timeout: float = 300, until_generation: int | None = None,
                  todo: list | None = None) -> list:
    """The NSGA-II loop of search_app.tasks, run in this process: ask -> evaluate each genome -> tell.
    Stops when the run stops, or once ``until_generation`` generations are told; then returns the genomes
    already asked for the next generation (pass them back in as ``todo`` to go on)."""
    from search_app import services
    from search_app.models import SearchRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in todo or []:
            with guard:
                services.evaluate_and_record(run_id, item["generation"], item["genome"])
        time.sleep(0.5)  # let the page poll between generations
        with guard:
            state, todo = services.advance(run_id)
            told = SearchRun.objects.get(pk=run_id).generation
        if state == "stopped":
            return []
        if until_generation is not None and told >= until_generation:
            return todo
    raise AssertionError(f"search run {run_id} did not finish within {timeout}s")


# ------------------------------------------------------------------------------------------- tests
def test_every_page_renders_on_an_empty_platform(browser, live_server):
    """No data anywhere: every chart says so instead of breaking, and nothing fails in the browser."""
    url = live_server.url
    open_page(browser, url, "/", "home-empty")
    assert "No search runs yet" in browser.page_source
    open_page(browser, url, "/backends/", "backends-empty", empty=["chart-backends-coherence"])
    open_page(browser, url, "/circuits/", "circuits-empty")
    open_page(browser, url, "/searches/", "searches-empty", empty=["chart-hv-runs"])
    open_page(browser, url, "/leaderboards/architectures/", "leaderboard-empty",
              empty=["chart-leaderboard", "chart-hv-by-run"])


def test_pages_with_real_calibrations_and_a_live_search_run(browser, live_server, db_guard, django_user_model):
    from benchmarks_app import services as bench_services
    from search_app import services as search_services
    from search_app.models import SearchRun

    if not hasattr(bench_services, "ingest_calibration"):
        pytest.skip("benchmarks_app.services.ingest_calibration (calibration store) not available yet")
    url = live_server.url
    t0 = time.monotonic()
    _ingest_real_calibrations()
    owner = django_user_model.objects.create_user(username="e2e", password="pw-e2e-12345")
    run = search_services.search_create(
        owner=owner, visibility="public", name="e2e iris", start=False,
        config={"dataset": "iris", "backend": "ibm_sherbrooke", "space": {"min_qubits": 2, "max_qubits": 3},
                "population": 4, "generations": 2, "epochs": 1})
    assert run.status == SearchRun.Status.QUEUED

    # Live progress: the page is open while the run is queued, the run advances, the page follows by polling.
    open_page(browser, url, f"/searches/{run.pk}/", "search-detail-queued", empty=["chart-pareto", "chart-hv"])
    assert browser.execute_script("return document.body.dataset.polling") == "1"
    assert browser.find_element("id", "run-status").text == "queued"
    next_todo = _drive_search(run.pk, db_guard, until_generation=1)
    _wait(lambda: browser.find_element("id", "run-status").text == "running"
          and "generation 1 of 2" in browser.find_element("id", "run-progress-text").text, 30,
          "the open page to show generation 1 of 2 while the run is running")
    _wait(lambda: browser.execute_script(
        "return ['chart-pareto','chart-hv'].every(id => document.getElementById(id).dataset.state === 'chart')"),
        30, "Pareto front and hypervolume charts of the first generation")
    _screenshot(browser, "search-detail-running")
    _drive_search(run.pk, db_guard, todo=next_todo)
    run.refresh_from_db()
    assert run.status == SearchRun.Status.SUCCEEDED, run.error
    _wait(lambda: browser.find_element("id", "run-status").text == "succeeded", 30,
          "the open page to show the finished run without a reload")
    _wait(lambda: browser.execute_script(
        "return ['chart-pareto','chart-hv'].every(id => document.getElementById(id).dataset.state === 'chart')"),
        30, "Pareto front and hypervolume charts after polling")
    _wait(lambda: browser.execute_script("return document.body.dataset.polling") == "0", 10, "polling to stop")
    assert not _severe(browser)
    rows = browser.find_elements("css selector", "#candidates-table tbody tr")
    assert len(rows) == run.candidates.count() > 0
    _screenshot(browser, "search-detail-live")

    open_page(browser, url, f"/searches/{run.pk}/", "search-detail", charts=["chart-pareto", "chart-hv"])
    n_front = browser.execute_script(
        "const el = document.getElementById('chart-pareto'); return el.data[1].x.length")
    assert n_front == run.candidates.filter(on_front=True, runnable=True).exclude(c_total_s=None).count()
    open_page(browser, url, "/searches/", "searches", charts=["chart-hv-runs"])
    open_page(browser, url, "/leaderboards/architectures/", "leaderboard-architectures",
              charts=["chart-leaderboard", "chart-hv-by-run"])
    open_page(browser, url, "/", "home")
    assert "e2e iris" in browser.page_source

    open_page(browser, url, "/backends/", "backends", charts=["chart-backends-coherence", "chart-backends-errors"])
    assert "ibm_sherbrooke" in browser.find_element("id", "backends-table").text
    open_page(browser, url, "/backends/ibm_sherbrooke/", "backend-detail",
              charts=["chart-trend-coherence", "chart-trend-errors", "chart-heatmap"])
    trend_points = browser.execute_script(
        "return document.getElementById('chart-trend-coherence').data.map(t => t.x.length)")
    assert trend_points == [2, 2], trend_points  # T1 and T2 medians of the two sherbrooke snapshots
    nodes = browser.execute_script(
        "const d = document.getElementById('chart-heatmap').data; return d[d.length - 1].x.length")
    assert nodes == 127
    # the qubit colouring follows the selector
    browser.find_element("css selector", "#heatmap-metric option[value='readout_error']").click()
    _wait(lambda: "readout" in browser.execute_script(
        "const d = document.getElementById('chart-heatmap').data; return d[d.length - 1].marker.colorbar.title.text"),
        10, "heat map to recolour by readout error")
    assert not _severe(browser)
    _screenshot(browser, "backend-detail-readout")

    # A real circuit (GHZ on 4 qubits): its cost trend is computed by the API on demand for every snapshot
    # of every backend wide enough; the leaderboard ranks the backends' latest snapshots.
    from qiskit import QuantumCircuit, qasm2

    qc = QuantumCircuit(4)
    qc.h(0)
    for q in range(3):
        qc.cx(q, q + 1)
    qc.measure_all()
    circuit, _ = bench_services.circuit_create(qasm=qasm2.dumps(qc), name="ghz-4 (e2e)")
    open_page(browser, url, "/circuits/", "circuits")
    assert "ghz-4 (e2e)" in browser.find_element("id", "circuits-table").text
    open_page(browser, url, f"/circuits/{circuit.pk}/", "circuit-detail",
              charts=["chart-cost-trend", "chart-backend-leaderboard"], timeout=120)
    per_backend = browser.execute_script(
        "return Object.fromEntries(document.getElementById('chart-cost-trend').data.map(t => [t.name, t.x.length]))")
    assert per_backend == {"ibm_sherbrooke": 2, "ibm_torino": 1}, per_backend
    bars = browser.execute_script("return document.getElementById('chart-backend-leaderboard').data[0].x.length")
    assert bars == 2
    elapsed = time.monotonic() - t0
    print(f"e2e with data: {elapsed:.1f}s")


def test_circuit_page_shows_drivers_naming_the_qubit_whose_t2_dropped(browser, live_server, db_guard):
    """Issue 16: the cost trend's points carry their drivers; the page annotates the moved point and its drivers
    table names the qubit whose T2 dropped, with its values before and after."""
    from benchmarks_app import services as bench_services
    from cost_engine.calibration import load_fake_calibration
    from tests.test_drift_drivers import GHZ4, drifted

    with db_guard:
        base = load_fake_calibration("lima")  # 5 qubits: only this backend is wide enough and stored
        snap0, _ = bench_services.ingest_calibration(base)
        circuit, _ = bench_services.circuit_create(qasm=GHZ4, name="ghz-4 (drivers)")
        est0, _ = bench_services.estimate_get_or_create(circuit, snap0, bench_services.cost_options({}))
        t2 = dict(est0.report["usage"]["t2_s"])
        victim = max(t2, key=t2.get)
        bench_services.ingest_calibration(drifted(base, days=1, t2=(victim, min(t2.values()) / 10)))
    open_page(browser, live_server.url, f"/circuits/{circuit.pk}/", "circuit-drivers",
              charts=["chart-cost-trend"], timeout=90)
    # the default metric, wall-clock, does not depend on T2: nothing moved it
    assert "No point has moved" in browser.find_element("id", "drivers-table").text
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "cost-metric")).select_by_value("t_eff_s")
    table = _wait(lambda: (lambda t: t if "decoherence" in t else None)(
        browser.find_element("id", "drivers-table").text), 60, "the drivers table of T_eff")
    _screenshot(browser, "circuit-drivers-t-eff")
    assert "decoherence" in table and f"qubit {victim}" in table and "t2_s" in table, table
    notes = browser.execute_script(
        "return (document.getElementById('chart-cost-trend').layout.annotations || []).map(a => a.text)")
    assert any(f"qubit {victim}" in n for n in notes), notes


def test_backend_pages_show_the_real_calibration_history(browser, live_server, db_guard):
    """The shipped history (issue 15), as the main job ingests it: sherbrooke, hanoi, torino and yorktown
    pages draw multi-snapshot trends from their first to their last real calibration date."""
    from benchmarks_app import services as bench_services

    if not hasattr(bench_services, "ingest_history"):
        pytest.skip("benchmarks_app.services.ingest_history not available")
    with db_guard:
        results = bench_services.ingest_history(["sherbrooke", "hanoi", "torino", "yorktown"])
    assert sum(1 for _, new, _ in results if new) == 14
    expected = {"ibm_sherbrooke": ("2023-01-03", "2025-02-26", 3), "ibm_hanoi": ("2021-12-09", "2025-02-26", 4),
                "ibm_torino": ("2024-02-28", "2025-02-26", 2), "ibmqx2": ("2019-08-27", "2021-03-15", 5)}
    for name, (first, last, n) in expected.items():
        open_page(browser, live_server.url, f"/backends/{name}/", f"backend-history-{name}",
                  charts=["chart-trend-coherence", "chart-trend-errors"])
        xs = browser.execute_script(
            "return document.getElementById('chart-trend-coherence').data.map(t => t.x.map(String))")
        assert [len(x) for x in xs] == [n, n], (name, xs)
        dates = sorted(x[:10] for x in xs[0])
        assert dates[0] == first and dates[-1] == last, (name, dates)
