/* Circuit pages: stored circuits, one circuit's cost trend on every backend, backend leaderboard.
 * Data: /api/circuits/, /api/backends/?min_qubits=, /api/circuits/{id}/cost-trend/?backend=&metric=,
 * /api/leaderboards/backends/?circuit=&metric=. */
(function (H) {
  "use strict";

  const COLORS = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5c940d", "#e67700"];
  const isTime = (m) => /_s$/.test(m);
  const fmt = (m, v) => (isTime(m) ? H.seconds(v) : H.num(v, 4));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  H.pages["circuit-list"] = async function (cfg) {
    const circuits = await H.getAll(cfg.api, 10);
    H.table("#circuits-table", [
      { label: "id", num: true, value: (c) => `<a href="/circuits/${c.id}/">#${c.id}</a>` },
      { label: "name", value: (c) => `<a href="/circuits/${c.id}/">${H.esc(c.name || "(unnamed)")}</a>` },
      { label: "qubits", num: true, value: (c) => H.num(c.num_qubits) },
      { label: "gates", num: true, value: (c) => H.num(c.num_gates) },
      { label: "tags", value: (c) => H.esc((c.tags || []).join(", ")) + (c.is_reference ? " <span class=\"muted\">(reference)</span>" : "") },
      { label: "owner", value: (c) => H.esc(c.owner || "–") },
      { label: "stored", value: (c) => H.date(c.created_at) },
    ], circuits);
  };

  H.pages["circuit-detail"] = async function (cfg) {
    const sel = H.$("#cost-metric");
    const status = H.$("#cost-status");
    const backends = await H.getAll(cfg.api.backends + H.qs({ min_qubits: cfg.num_qubits }), 10);

    /** The cost trend on one backend; estimates missing on many snapshots are computed by a background job
     *  (202 + job URL): follow the job, then read the trend again. */
    async function trendOn(backend, metric) {
      const url = cfg.api.cost_trend + H.qs({ backend, metric });
      for (let attempt = 0; attempt < 3; attempt++) {
        const body = await H.getJSON(url);
        if (!body.job_url) return body.points || [];
        status.textContent = `computing ${body.pending} estimates on ${backend} in a background job…`;
        for (let i = 0; i < 120; i++) {
          const job = await H.getJSON(body.job_url);
          if (job.status === "succeeded" || job.status === "failed") break;
          await sleep(2000);
        }
      }
      return (await H.getJSON(url)).points || [];
    }

    async function draw() {
      const metric = sel.value;
      const label = sel.options[sel.selectedIndex].text;
      const trendEl = H.$("#chart-cost-trend"), lbEl = H.$("#chart-backend-leaderboard");
      if (!backends.length) {
        [trendEl, lbEl].forEach((el) => H.empty(el, el.dataset.empty));
        H.empty("#leaderboard-table", "No data yet.");
        return;
      }
      const traces = [];
      let latestMoved = null;
      const unrunnable = [];  // [backend, reason]: the backend cannot run the circuit on any of its snapshots
      for (const [i, b] of backends.entries()) {  // one backend at a time: missing estimates are computed
        status.textContent = `reading the cost trend on ${b.name}…`;
        const all = await trendOn(b.name, metric);
        const pts = all.filter((p) => p.value !== null && p.value !== undefined);
        const refused = all.filter((p) => p.runnable === false);
        if (!pts.length && refused.length) unrunnable.push([b.name, refused[refused.length - 1].unrunnable_reason]);
        if (!pts.length) continue;
        traces.push({ type: "scatter", mode: "lines+markers", name: b.name, x: pts.map((p) => p.calibrated_at),
          y: pts.map((p) => p.value), line: { color: COLORS[i % COLORS.length] },
          customdata: pts.map((p) => ({ backend: b.name, point: p })),
          hovertext: pts.map((p) => `${H.esc(b.name)}, snapshot ${p.snapshot_id}<br>${H.esc(label)}: ${fmt(metric, p.value)}` +
            ((p.drivers || []).length ? "<br>moved by: " + p.drivers.slice(0, 3).map((d) =>
              `${H.esc(d.text || d.term)} (${d.delta > 0 ? "+" : ""}${H.num(d.delta, 3)} ${H.esc(d.unit)})`).join("<br>") : "")),
          hovertemplate: "%{hovertext}<extra></extra>" });
        // the latest point that moved: where the drivers panel starts
        const moved = pts.filter((p) => (p.drivers || []).length);
        if (moved.length && (!latestMoved || moved[moved.length - 1].calibrated_at > latestMoved.point.calibrated_at))
          latestMoved = { backend: b.name, point: moved[moved.length - 1] };
      }
      status.textContent = "";
      H.$("#trend-unrunnable").innerHTML = unrunnable.length ? "Unrunnable (no point in the trend): " +
        unrunnable.map(([b, why]) => `<span class="unrunnable" data-backend="${H.esc(b)}"><b>${H.esc(b)}</b>: ` +
          `unrunnable: ${H.esc(why)}</span>`).join(" · ") : "";
      const logY = isTime(metric) || metric === "shots_total";
      if (!traces.length) H.empty(trendEl, "No data yet: no estimate of this circuit (zero survival everywhere?).");
      else {
        // each point that moved is annotated with its largest hardware driver (the qubit or coupler named)
        const annotations = [];
        for (const t of traces) {
          t.customdata.forEach((c, j) => {
            const d = (c.point.drivers || [])[0];
            if (d && d.text && d.text !== d.term) annotations.push({ x: t.x[j], y: logY ? Math.log10(t.y[j]) : t.y[j],
              text: H.esc(d.text), showarrow: true, arrowhead: 2, ax: 0, ay: -28, font: { size: 10 } });
          });
        }
        // many backends: the legend goes to the right (it scrolls) instead of covering the plot from the top
        const many = traces.length > 8;
        await H.plot(trendEl, traces, { xaxis: { title: { text: "calibrated at (UTC)" }, type: "date" },
          yaxis: { title: { text: label }, type: logY ? "log" : "linear" }, annotations: annotations.slice(-12),
          ...(many ? { legend: { orientation: "v", x: 1.02, y: 1, yanchor: "top", font: { size: 10 } },
            margin: { l: 64, r: 160, t: 24, b: 52 } } : {}) });
        trendEl.removeAllListeners && trendEl.removeAllListeners("plotly_click");
        trendEl.on("plotly_click", (ev) => { const c = ev.points[0].customdata; if (c) showDrivers(c.backend, c.point, label); });
      }
      showDrivers(latestMoved && latestMoved.backend, latestMoved && latestMoved.point, label);

      const board = await H.getJSON(cfg.api.leaderboard + H.qs({ circuit: cfg.circuit, metric }));
      const rows = board.rows || [];
      const ranked = rows.filter((r) => r.rank !== null && r.rank !== undefined);
      const missing = [];
      if ((board.unrunnable || []).length) missing.push(`unrunnable: ${board.unrunnable.map((u) => u.backend).join(", ")}`);
      if ((board.not_estimated || []).length) missing.push(`not estimated yet: ${board.not_estimated.join(", ")}`);
      if ((board.too_small || []).length) missing.push(`too few qubits: ${board.too_small.join(", ")}`);
      H.$("#leaderboard-missing").textContent = missing.join(" · ");
      if (!ranked.length) H.empty(lbEl, lbEl.dataset.empty);
      // A dot plot, not bars: values can be negative (log ESP) or sit on a log axis, where bars would lie.
      else await H.plot(lbEl, [{ type: "scatter", mode: "markers+text", x: ranked.map((r) => r.value),
        y: ranked.map((r) => `${r.rank}. ${r.backend}`), marker: { color: "#2457c5", size: 12 },
        text: ranked.map((r) => fmt(metric, r.value)), textposition: "middle right", cliponaxis: false,
        hovertext: ranked.map((r) => `${H.esc(r.backend)} (calibrated ${H.date(r.snapshot_calibrated_at)})<br>${H.esc(label)}: ${fmt(metric, r.value)}`),
        hovertemplate: "%{hovertext}<extra></extra>" }], {
        xaxis: { title: { text: label + (board.higher_is_better ? " (higher is better)" : " (lower is better)") },
          type: logY ? "log" : "linear" },
        // one row per backend, every name shown: the chart grows with the number of ranked backends
        yaxis: { autorange: "reversed", type: "category", dtick: 1, automargin: true },
        height: Math.max(360, 22 * ranked.length + 90), showlegend: false,
        margin: { l: 150, r: 72, t: 24, b: 52 } });
      H.table("#leaderboard-table", [
        { label: "rank", num: true, value: (r) => (r.rank === null ? "–" : r.rank) },
        { label: "backend", value: (r) => `<a href="/backends/${encodeURIComponent(r.backend)}/">${H.esc(r.backend)}</a>` },
        { label: "family", value: (r) => H.esc(r.processor_family || "") },
        { label: "calibrated at", value: (r) => H.date(r.snapshot_calibrated_at) },
        { label, num: true, value: (r) => (r.runnable === false
          ? `<span class="unrunnable" title="${H.esc(r.unrunnable_reason)}">unrunnable: ${H.esc(r.unrunnable_reason)}</span>`
          : fmt(metric, r.value)) },
        { label: "wall-clock", num: true, value: (r) => H.seconds(r.wallclock_s) },
        { label: "T_eff", num: true, value: (r) => H.seconds(r.t_eff_s) },
        { label: "log ESP", num: true, value: (r) => H.num(r.log_esp, 3) },
        { label: "SWAPs", num: true, value: (r) => H.num(r.n_swaps) },
      ], rows, (r) => (r.runnable === false ? "unrunnable-row" : ""));
    }
    /** The drivers of one point: each term's change of the metric and the qubits and couplers behind it. */
    function showDrivers(backend, point, label) {
      const el = H.$("#drivers-table"), title = H.$("#drivers-title");
      if (!point || !(point.drivers || []).length) {
        title.textContent = "";
        H.empty(el, el.dataset.empty);
        return;
      }
      title.textContent = `${backend}, snapshot ${point.snapshot_id} (${H.date(point.calibrated_at)}): what moved ${label} since the previous snapshot`;
      const rows = [];
      for (const d of point.drivers) {
        const els = (d.elements || []);
        if (!els.length) rows.push({ d, e: null });
        els.forEach((e, k) => rows.push({ d: k ? null : d, e }));
      }
      const where = (e) => (!e ? "" : e.kind === "qubit" ? `qubit ${e.qubit}` : e.kind === "coupler" ? `coupler ${H.esc(e.coupler)}` : H.esc(e.kind));
      const val = (e, v) => (v === null || v === undefined ? "–" : /_s$/.test(e.field || "") ? H.seconds(v) : H.num(v, 4));
      H.table(el, [
        { label: "term", value: (r) => (r.d ? H.esc(r.d.term) : "") },
        { label: "change", num: true, value: (r) => (r.d ? `${r.d.delta > 0 ? "+" : ""}${H.num(r.d.delta, 4)} ${H.esc(r.d.unit)}` : "") },
        { label: "hardware", value: (r) => where(r.e) + (r.e && r.e.gate ? ` (${H.esc(r.e.gate)})` : "") },
        { label: "property", value: (r) => H.esc((r.e && (r.e.field || r.e.change || r.e.note)) || "") },
        { label: "before", num: true, value: (r) => (r.e && "from" in r.e ? val(r.e, r.e.from) : "") },
        { label: "after", num: true, value: (r) => (r.e && "to" in r.e ? val(r.e, r.e.to) : "") },
        { label: "contribution", num: true, value: (r) => (r.e && r.e.contribution !== null && r.e.contribution !== undefined ? H.num(r.e.contribution, 4) : "") },
      ], rows);
    }

    sel.addEventListener("change", () => draw().catch((err) => console.error(err)));
    await draw();
  };
})(window.HANAS);
