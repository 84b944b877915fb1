/* Backend pages: latest metrics table, calibration trends, coupling-map heat map of the latest snapshot.
 * Data: /api/backends/, /api/backends/{name}/snapshots/, /snapshots/{id}/, /trends/?metric=. */
(function (H) {
  "use strict";

  const COLORS = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285"];

  /** The latest snapshot's summary (BackendSerializer.latest_snapshot carries the summary columns). */
  function latestOf(b) {
    const snap = b.latest_snapshot || null;
    return { snap, summary: snap || {}, when: snap ? snap.calibrated_at : null };
  }
  const isErr = (m) => m.indexOf("error") >= 0;
  const fmtMetric = (m, v) => (isErr(m) ? H.num(v, 3) : H.seconds(v));

  // ------------------------------------------------------------------------------ /backends/
  H.pages["backend-list"] = async function (cfg) {
    const ids = ["#backends-table", "#chart-backends-coherence", "#chart-backends-errors"];
    const backends = await H.getAll(cfg.api, 10);
    if (!backends.length) { ids.forEach((id) => H.empty(id, H.$(id).dataset.empty)); return; }
    const cols = [
      { label: "backend", value: (b) => `<a href="/backends/${encodeURIComponent(b.name)}/">${H.esc(b.name)}</a>` },
      { label: "family", value: (b) => H.esc(b.processor_family || "") },
      { label: "qubits", num: true, value: (b) => H.num(b.num_qubits) },
      { label: "snapshots", num: true, value: (b) => H.num(b.snapshot_count) },
      { label: "latest calibration", value: (b) => H.date(latestOf(b).when) },
    ].concat(cfg.metrics.map(([m, label]) => ({ label: label.replace(" gate error median", " error").replace(" median", ""),
      num: true, value: (b) => fmtMetric(m, latestOf(b).summary[m]) })));
    H.table("#backends-table", cols, backends);

    const names = backends.map((b) => b.name);
    const short = { t1_median: "T1", t2_median: "T2", error_1q_median: "1q gate error", error_2q_median: "2q gate error",
      readout_error_median: "readout error" };
    // Coherence as bars (linear axis from zero); error rates span decades, so they are dots on a log axis
    // (bars on a log axis would start at an arbitrary floor).
    const series = (metrics, scale, mode) => metrics.map(([m, label], i) => Object.assign({
      name: short[m] || label, x: names,
      y: backends.map((b) => { const v = latestOf(b).summary[m]; return v == null ? null : v * scale; }),
      marker: { color: COLORS[i % COLORS.length], size: 13 },
    }, mode === "bar" ? { type: "bar" } : { type: "scatter", mode: "markers" }));
    const coh = cfg.metrics.filter(([m]) => !isErr(m)), errs = cfg.metrics.filter(([m]) => isErr(m));
    await H.plot("#chart-backends-coherence", series(coh, 1e6, "bar"), {
      barmode: "group", yaxis: { title: { text: "median over qubits [µs]" } } });
    await H.plot("#chart-backends-errors", series(errs, 1, "dots"), {
      scattermode: "group", yaxis: { title: { text: "error rate, median (log)" }, type: "log", exponentformat: "power" } });
  };

  // ------------------------------------------------------------------------ /backends/<name>/
  H.pages["backend-detail"] = async function (cfg) {
    const ids = ["#chart-trend-coherence", "#chart-trend-errors", "#chart-heatmap", "#snapshots-table"];
    let snaps;
    try { snaps = await H.getAll(cfg.api.snapshots, 20); } catch (err) {
      ids.forEach((id) => H.fail(id, err)); throw err;
    }
    if (!snaps.length) { ids.forEach((id) => H.empty(id, H.$(id).dataset.empty)); return; }
    snaps.sort((a, b) => new Date(b.calibrated_at) - new Date(a.calibrated_at));
    H.table("#snapshots-table", [
      { label: "id", num: true, value: (s) => s.id },
      { label: "calibrated at", value: (s) => H.date(s.calibrated_at) },
      { label: "source", value: (s) => H.esc(s.source || "") },
      { label: "ingested", value: (s) => H.date(s.ingested_at) },
      { label: "T1 median", num: true, value: (s) => H.seconds(s.t1_median) },
      { label: "T2 median", num: true, value: (s) => H.seconds(s.t2_median) },
      { label: "2q error median", num: true, value: (s) => H.num(s.error_2q_median, 3) },
      { label: "readout error median", num: true, value: (s) => H.num(s.readout_error_median, 3) },
      { label: "broken couplers", num: true, value: (s) => H.num(s.broken_edges) },
      { label: "plausibility", value: (s) => (s.quality_flags && s.quality_flags.length
        ? `<span class="warn" title="${H.esc(s.quality_flags.join("; "))}">⚠ ${H.esc(s.quality_flags[0])}` +
          `${s.quality_flags.length > 1 ? ` (+${s.quality_flags.length - 1} more)` : ""}</span>` : "ok") },
    ], snaps);
    await Promise.all([
      drawTrends("#chart-trend-coherence", cfg, cfg.coherence_metrics, false),
      drawTrends("#chart-trend-errors", cfg, cfg.error_metrics, true),
      drawHeatmap(cfg, snaps[0]),
    ]);
  };

  async function drawTrends(sel, cfg, metrics, errors) {
    const series = await Promise.all(metrics.map(([m]) => H.getJSON(cfg.api.trends + H.qs({ metric: m }))
      .then((body) => (body.points || []).filter((r) => r.value !== null && r.value !== undefined))));
    const traces = metrics.map(([m, label], i) => {
      const rows = series[i].slice().sort((a, b) => new Date(a.calibrated_at) - new Date(b.calibrated_at));
      return { type: "scatter", mode: "lines+markers", name: label, x: rows.map((r) => r.calibrated_at),
        y: rows.map((r) => (errors ? r.value : r.value * 1e6)), line: { color: COLORS[i % COLORS.length] },
        customdata: rows.map((r) => r.snapshot_id),
        hovertemplate: `${label}: %{y:${errors ? ".3e" : ".1f"}}${errors ? "" : " µs"}<br>%{x}<br>snapshot %{customdata}<extra></extra>` };
    }).filter((t) => t.x.length);
    if (!traces.length) return H.empty(sel, H.$(sel).dataset.empty);
    await H.plot(sel, traces, {
      xaxis: { title: { text: "calibrated at (UTC)" }, type: "date" },
      yaxis: errors ? { title: { text: "error (median over qubits / couplers)" }, type: "log", exponentformat: "power" }
        : { title: { text: "µs (median over qubits)" } },
    });
  }

  // Heat map of one snapshot over the coupling map.
  async function drawHeatmap(cfg, snap) {
    const el = H.$("#chart-heatmap");
    const full = await H.getJSON(`${cfg.api.snapshots}${snap.id}/`);
    const data = full.data;
    H.$("#heatmap-when").textContent = `(snapshot ${snap.id}, calibrated ${H.date(full.calibrated_at)})`;
    H.$("#backend-subtitle").textContent = `${data.num_qubits} qubits` +
      (data.processor_family ? ` · ${data.processor_family}` : "") + (data.basis_gates ? ` · basis ${data.basis_gates.join(", ")}` : "");
    const n = data.num_qubits, qubits = data.qubits || [], gates = data.gates || [];
    const basis = new Set(data.basis_gates || gates.map((g) => g.name));
    // undirected couplers with their best calibrated two-qubit basis-gate error
    const edgeErr = new Map();
    const ek = (a, b) => (a < b ? `${a}-${b}` : `${b}-${a}`);
    (data.coupling_map || []).forEach(([a, b]) => { if (!edgeErr.has(ek(a, b))) edgeErr.set(ek(a, b), null); });
    gates.filter((g) => g.qubits.length === 2 && basis.has(g.name) && g.error !== null).forEach((g) => {
      const k = ek(g.qubits[0], g.qubits[1]);
      const old = edgeErr.get(k);
      edgeErr.set(k, old === null || old === undefined ? g.error : Math.min(old, g.error));
    });
    const oneQ = new Map();
    gates.filter((g) => g.qubits.length === 1 && g.name === "sx" && g.error !== null).forEach((g) => oneQ.set(g.qubits[0], g.error));
    const edges = [...edgeErr.keys()].map((k) => k.split("-").map(Number));
    const pos = H.graphLayout(n, edges);

    // couplers: one line trace per colour bin (Plotly lines have one colour per trace)
    const ok = [...edgeErr.values()].filter((v) => v !== null && v < 1);
    const lo = Math.log10(Math.min(...ok, 1e-3)), hi = Math.log10(Math.max(...ok, 1e-2));
    const scale = ["#1a9850", "#66bd63", "#a6d96a", "#d9ef8b", "#fee08b", "#fdae61", "#f46d43", "#d73027"];
    const bins = scale.map(() => ({ x: [], y: [] }));
    const broken = { x: [], y: [] };
    const mid = { x: [], y: [], c: [], t: [] };
    edges.forEach(([a, b]) => {
      const e = edgeErr.get(ek(a, b));
      let target = broken;
      if (e !== null && e < 1) {
        const f = hi > lo ? (Math.log10(e) - lo) / (hi - lo) : 0;
        target = bins[Math.min(scale.length - 1, Math.max(0, Math.floor(f * scale.length)))];
        mid.c.push(Math.log10(e));
      } else mid.c.push(null);
      target.x.push(pos[a][0], pos[b][0], null); target.y.push(pos[a][1], pos[b][1], null);
      mid.x.push((pos[a][0] + pos[b][0]) / 2); mid.y.push((pos[a][1] + pos[b][1]) / 2);
      mid.t.push(`coupler ${a}–${b}<br>2-qubit error ${e === null ? "not calibrated" : H.num(e, 3)}${e !== null && e >= 1 ? " (broken)" : ""}`);
    });
    const traces = bins.map((bin, i) => ({ type: "scatter", mode: "lines", x: bin.x, y: bin.y, hoverinfo: "skip",
      line: { color: scale[i], width: 5 }, showlegend: false }));
    traces.push({ type: "scatter", mode: "lines", x: broken.x, y: broken.y, hoverinfo: "skip", showlegend: false,
      line: { color: "#999", width: 2, dash: "dot" } });
    traces.push({ type: "scatter", mode: "markers", x: mid.x, y: mid.y, text: mid.t, hovertemplate: "%{text}<extra></extra>",
      showlegend: false, marker: { size: 6, opacity: 0.01, color: mid.c.map((v) => (v === null ? lo : v)),
        colorscale: scale.map((c, i) => [i / (scale.length - 1), c]), cmin: lo, cmax: hi,
        colorbar: { title: { text: "2q error" }, x: 1.0, len: 0.9, tickvals: ticks(lo, hi), ticktext: ticks(lo, hi).map((t) => "1e" + t) } } });

    const metricSel = H.$("#heatmap-metric");
    const nodeTraceIndex = traces.length;
    function nodeTrace(metric) {
      const val = (q) => (metric === "error_1q" ? oneQ.get(q) : (qubits[q] || {})[metric]);
      const raw = pos.map((_, q) => val(q));
      const err = metric !== "t1_s" && metric !== "t2_s";
      const shown = raw.map((v) => (v === null || v === undefined ? null : err ? Math.log10(Math.max(v, 1e-6)) : v * 1e6));
      const present = shown.filter((v) => v !== null);
      const cmin = Math.min(...present), cmax = Math.max(...present);
      const label = metricSel.options[metricSel.selectedIndex].text;
      return { type: "scatter", mode: "markers+text", x: pos.map((p) => p[0]), y: pos.map((p) => p[1]),
        text: pos.map((_, q) => String(q)), textfont: { size: 8, color: "#fff" },
        hovertext: pos.map((_, q) => `qubit ${q}<br>${label}: ${raw[q] === null || raw[q] === undefined ? "not calibrated" : err ? H.num(raw[q], 3) : H.num(raw[q] * 1e6, 1) + " µs"}`),
        hovertemplate: "%{hovertext}<extra></extra>", showlegend: false,
        marker: { size: 17, line: { width: 1, color: "#222" }, color: shown.map((v) => (v === null ? cmin : v)),
          colorscale: err ? "Viridis" : "Viridis", reversescale: err, cmin, cmax,
          colorbar: err ? { title: { text: label }, x: 1.1, len: 0.9, tickvals: ticks(cmin, cmax), ticktext: ticks(cmin, cmax).map((t) => "1e" + t) }
            : { title: { text: label + " [µs]" }, x: 1.1, len: 0.9 } } };
    }
    traces.push(nodeTrace(metricSel.value));
    await H.plot(el, traces, {
      xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" }, margin: { l: 10, r: 10, t: 10, b: 10 },
      showlegend: false, hovermode: "closest",
    });
    metricSel.addEventListener("change", () => {
      window.Plotly.deleteTraces(el, nodeTraceIndex);
      window.Plotly.addTraces(el, nodeTrace(metricSel.value));
    });
  }

  function ticks(lo, hi) {
    const out = [];
    for (let t = Math.ceil(lo); t <= Math.floor(hi); t++) out.push(t);
    return out.length ? out : [Number(lo.toFixed(1))];
  }
})(window.HANAS);
