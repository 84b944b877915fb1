/* Circuit pages: stored circuits, cost trend of one circuit on every backend, backend leaderboard.
 * Data: /api/circuits/, /api/circuits/{id}/, /cost-trend/?backend=&metric=, /api/leaderboards/backends/?circuit=&metric=. */
(function (H) {
  "use strict";

  const COLORS = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5c940d", "#e67700"];
  // Estimate terms offered when the API does not list its own (COST_MODEL.md sections A and B).
  const DEFAULT_METRICS = [["t_eff_s", "T_eff: time per successful shot [s]"], ["t_gate_s", "T_gate [s]"],
    ["t_sched_s", "T_sched [s]"], ["t_job_s", "T_job wall-clock [s]"], ["p_fail", "p_fail"], ["log_esp", "log ESP"]];

  const rowsOf = (body) => (Array.isArray(body) ? body : (body && (body.results || body.points || body.trend ||
    body.rows || body.leaderboard || body.backends)) || []);
  const isTime = (m) => /_s$/.test(m);

  H.pages["circuit-list"] = async function (cfg) {
    if (!cfg.available) return H.empty("#circuits-table", "No data yet: the circuit endpoints (/api/circuits/) are not installed.");
    const circuits = await H.getAll(cfg.api, 10);
    H.table("#circuits-table", [
      { label: "id", num: true, value: (c) => `<a href="/circuits/${c.id}/">#${c.id}</a>` },
      { label: "name", value: (c) => `<a href="/circuits/${c.id}/">${H.esc(c.name || c.label || "")}</a>` },
      { label: "qubits", num: true, value: (c) => H.num(c.num_qubits) },
      { label: "gates", num: true, value: (c) => H.num(c.num_gates ?? c.size ?? c.gate_count) },
      { label: "depth", num: true, value: (c) => H.num(c.depth) },
      { label: "created", value: (c) => H.date(c.created_at) },
    ], circuits);
  };

  H.pages["circuit-detail"] = async function (cfg) {
    const ids = ["#chart-cost-trend", "#chart-backend-leaderboard", "#leaderboard-table"];
    if (!cfg.available) {
      H.$("#circuit-info").textContent = "No data yet: the circuit endpoints are not installed.";
      ids.forEach((id) => H.empty(id, "No data yet: the circuit cost endpoints are not installed."));
      return;
    }
    const circuit = await H.getJSON(cfg.api.circuit);
    H.$("#circuit-name").textContent = circuit.name || "";
    H.$("#circuit-info").innerHTML = `<dl class="kv">` + [["qubits", circuit.num_qubits], ["gates", circuit.num_gates ?? circuit.size],
      ["depth", circuit.depth], ["created", H.date(circuit.created_at)]]
      .filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `<dt>${k}</dt><dd>${H.esc(v)}</dd>`).join("") + "</dl>";
    const metrics = (circuit.metrics || cfg.metrics || DEFAULT_METRICS).map((m) => (Array.isArray(m) ? m : [m, m]));
    const sel = H.$("#cost-metric");
    sel.innerHTML = metrics.map(([m, label]) => `<option value="${H.esc(m)}">${H.esc(label)}</option>`).join("");
    const backends = cfg.backends_available ? (await H.getAll(cfg.api.backends, 10)).map((b) => b.name) : [];

    async function draw() {
      const metric = sel.value;
      const label = sel.options[sel.selectedIndex].text;
      const series = await Promise.all(backends.map((b) => H.getJSON(cfg.api.cost_trend + H.qs({ backend: b, metric }))
        .then(rowsOf).catch(() => [])));
      const traces = backends.map((b, i) => {
        const rows = series[i].filter((r) => r.value !== null && r.value !== undefined)
          .sort((x, y) => new Date(x.calibrated_at) - new Date(y.calibrated_at));
        return { type: "scatter", mode: "lines+markers", name: b, x: rows.map((r) => r.calibrated_at),
          y: rows.map((r) => r.value), line: { color: COLORS[i % COLORS.length] } };
      }).filter((t) => t.x.length);
      const trendEl = H.$("#chart-cost-trend");
      if (!traces.length) H.empty(trendEl, "No data yet: no estimate of this circuit.");
      else await H.plot(trendEl, traces, { xaxis: { title: { text: "calibrated at (UTC)" }, type: "date" },
        yaxis: { title: { text: label }, type: isTime(metric) ? "log" : "linear" } });

      const lbEl = H.$("#chart-backend-leaderboard");
      if (!cfg.leaderboard_available) {
        H.empty(lbEl, "No data yet: the backend leaderboard endpoint is not installed.");
        H.empty("#leaderboard-table", "No data yet.");
        return;
      }
      const board = rowsOf(await H.getJSON(cfg.api.leaderboard + H.qs({ circuit: cfg.circuit, metric })));
      const name = (r) => r.backend || r.backend_name || r.name;
      if (!board.length) { H.empty(lbEl, "No data yet: no estimate of this circuit."); H.empty("#leaderboard-table", "No data yet."); return; }
      await H.plot(lbEl, [{ type: "bar", orientation: "h", x: board.map((r) => r.value), y: board.map(name),
        marker: { color: "#2457c5" }, hovertemplate: "%{y}: %{x}<extra></extra>" }], {
        xaxis: { title: { text: label }, type: isTime(metric) ? "log" : "linear" },
        yaxis: { autorange: "reversed", type: "category" }, showlegend: false, margin: { l: 140, r: 24, t: 24, b: 52 } });
      H.table("#leaderboard-table", [
        { label: "rank", num: true, value: (r) => r.rank ?? board.indexOf(r) + 1 },
        { label: "backend", value: (r) => `<a href="/backends/${encodeURIComponent(name(r))}/">${H.esc(name(r))}</a>` },
        { label: label, num: true, value: (r) => (isTime(metric) ? H.seconds(r.value) : H.num(r.value, 4)) },
        { label: "calibrated at", value: (r) => H.date(r.calibrated_at) },
      ], board);
    }
    sel.addEventListener("change", () => draw().catch((err) => console.error(err)));
    await draw();
  };
})(window.HANAS);
