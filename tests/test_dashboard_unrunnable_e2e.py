"""Issue 13: the circuit page renders with EVERY bundled snapshot ingested (`ingest_calibrations --source fake
--all`, 68 real devices, among them ibm_kyoto with all 144 couplers broken and 2019-2020 devices without
readout durations), and shows the unrunnable backends with their reason instead of going blank.

Same harness as tests/test_dashboard_e2e.py: Debian's headless Chromium driven by selenium against
pytest-django's live server; no SEVERE browser log entry; screenshot in test-artifacts/screenshots/."""
from __future__ import annotations

import io
import time

from django.core.management import call_command

from tests.test_dashboard_e2e import browser, db_guard, open_page  # noqa: F401 (fixtures)

GHZ4 = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[4];\ncreg c[4];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n"
        "cx q[2],q[3];\nmeasure q -> c;\n")


def test_circuit_page_with_all_bundled_snapshots_shows_kyoto_unrunnable(browser, live_server, db_guard):  # noqa: F811
    from benchmarks_app.models import Backend, CostEstimate, EstimateRefusal
    from benchmarks_app.services import circuit_create

    t0 = time.monotonic()
    with db_guard:
        out = io.StringIO()
        call_command("ingest_calibrations", "--source", "fake", "--all", stdout=out)
        circuit, _ = circuit_create(qasm=GHZ4, name="ghz-4 (all snapshots)")
        wide_enough = Backend.objects.filter(num_qubits__gte=4).count()
    assert "ingested 68 snapshot(s)" in out.getvalue()
    assert wide_enough > 60
    open_page(browser, live_server.url, f"/circuits/{circuit.pk}/", "circuit-detail-all-snapshots",
              charts=["chart-cost-trend", "chart-backend-leaderboard"], timeout=300)
    with db_guard:
        refused = {r.backend.name: r.reason for r in EstimateRefusal.objects.filter(circuit=circuit)
                   .select_related("backend")}
        runnable = set(CostEstimate.objects.filter(circuit=circuit, zero_survival=False)
                       .values_list("backend__name", flat=True))
    # every backend wide enough was costed or refused through the page's own requests
    assert len(refused) + len(runnable) == wide_enough, (len(refused), len(runnable), wide_enough)
    assert "no working two-qubit gate" in refused["ibm_kyoto"]
    assert any("no calibrated duration" in why for why in refused.values())

    # the trend chart has one line per runnable backend and says which backends are unrunnable and why
    traces = browser.execute_script("return document.getElementById('chart-cost-trend').data.map(t => t.name)")
    assert set(traces) == runnable
    note = browser.find_element("id", "trend-unrunnable").text
    assert "ibm_kyoto: unrunnable: ibm_kyoto has no working two-qubit gate" in note, note
    assert set(browser.execute_script(
        "return Array.from(document.querySelectorAll('#trend-unrunnable .unrunnable')).map(e => e.dataset.backend)"
    )) == set(refused)

    # the leaderboard ranks the runnable backends only; kyoto's row comes after them, unranked, with its reason
    dots = browser.execute_script("return document.getElementById('chart-backend-leaderboard').data[0].y")
    assert len(dots) == len(runnable) and not any("kyoto" in d for d in dots)
    rows = [[td.text for td in tr.find_elements("css selector", "td")]
            for tr in browser.find_elements("css selector", "#leaderboard-table tbody tr")]
    assert len(rows) == len(runnable) + len(refused)
    ranks = [r[0] for r in rows]
    assert ranks[:len(runnable)] == [str(i) for i in range(1, len(runnable) + 1)]
    assert set(ranks[len(runnable):]) == {"–"}
    kyoto = next(r for r in rows if r[1] == "ibm_kyoto")
    assert kyoto[0] == "–" and kyoto[4].startswith("unrunnable: ibm_kyoto has no working two-qubit gate"), kyoto
    assert "unrunnable: " in browser.find_element("id", "leaderboard-missing").text
    assert "not estimated" not in browser.find_element("id", "leaderboard-missing").text
    print(f"circuit page with {wide_enough} backends: {time.monotonic() - t0:.1f}s, "
          f"{len(runnable)} runnable, {len(refused)} unrunnable")
