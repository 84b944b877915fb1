/* Search-run pages: live progress, Pareto front, hypervolume, candidates, architecture leaderboard.
 * Data: /api/searches/, /api/searches/{id}/, /candidates/, /pareto/, /api/leaderboards/architectures/. */
(function (H) {
  "use strict";

  /** Compact genome text, e.g. "3q×2 angle_x [ry,rz] ring/cx pre[16,8] mlp" (cost_engine.hqnn.Genome). */
  function genomeText(g) {
    if (!g || typeof g !== "object") return "";
    if (g.n_qubits !== undefined && g.n_layers !== undefined) {
      const pre = Array.isArray(g.pre_widths) && g.pre_widths.length ? ` pre[${g.pre_widths.join(",")}]` : "";
      return `${g.n_qubits}q×${g.n_layers} ${g.encoding || ""} [${(g.rotations || []).join(",")}] ` +
        `${g.entangler || ""}${g.entangler_gate ? "/" + g.entangler_gate : ""}${pre} ${g.head || ""}`.trim();
    }
    return Object.entries(g).map(([k, v]) => `${k}=${Array.isArray(v) ? "[" + v.join(",") + "]" : JSON.stringify(v)}`).join(" ");
  }
  const genomeTitle = (g) => H.esc(JSON.stringify(g));

  // ------------------------------------------------------------------------ /searches/
  H.pages["search-list"] = async function (cfg) {
    const el = H.$("#chart-hv-runs");
    try {
      const runs = await H.getAll(cfg.api, 5);
      const traces = runs.filter((r) => (r.hypervolume || []).length).map((r) => ({
        type: "scatter", mode: "lines+markers", name: `#${r.id} ${r.name}`,
        x: r.hypervolume.map((_, i) => i + 1), y: r.hypervolume,
      }));
      if (!traces.length) return H.empty(el, el.dataset.empty);
      await H.plot(el, traces, {
        xaxis: { title: { text: "generations finished" }, dtick: 1 },
        yaxis: { title: { text: "hypervolume of the front" }, rangemode: "tozero" }, showlegend: true,
      });
    } catch (err) { H.fail(el, err); throw err; }
  };

  // --------------------------------------------------------------------- /searches/<id>/
  H.pages["search-detail"] = async function (cfg) {
    let lastKey = null;

    async function refresh() {
      const run = await H.getJSON(cfg.api.run);
      const p = run.progress || {};
      const st = H.$("#run-status");
      st.textContent = run.status; st.className = "status " + run.status;
      H.$("#run-progress-text").textContent = `generation ${p.generation} of ${p.generations_total}, ` +
        `${p.candidates_evaluated} candidates evaluated` +
        (p.pending_in_generation ? `, ${p.pending_in_generation} pending in this generation` : "");
      H.$("#run-progress-bar").style.width = (100 * (p.fraction || 0)).toFixed(1) + "%";
      H.$("#run-eta").textContent = (p.seconds_per_evaluation ? `${H.seconds(p.seconds_per_evaluation)} per evaluation` : "") +
        (p.eta_seconds && cfg.active_statuses.includes(run.status) ? ` · about ${H.seconds(p.eta_seconds)} left (one worker, serial)` : "");
      const errBox = H.$("#run-error");
      errBox.hidden = !run.error; errBox.textContent = run.error || "";
      const key = `${run.status}/${p.generation}/${p.candidates_evaluated}`;
      if (key !== lastKey) {
        lastKey = key;
        await Promise.all([drawCandidates(run), drawHypervolume(run)]);
      }
      return run;
    }

    async function drawCandidates(run) {
      const cands = await H.getAll(cfg.api.candidates, 40);
      const pareto = H.$("#chart-pareto");
      const columns = [
        { label: "gen", num: true, value: (c) => c.generation },
        { label: "genome", value: (c) => `<code title="${genomeTitle(c.genome)}">${H.esc(genomeText(c.genome))}</code>` },
        { label: "validation accuracy (objective)", num: true, value: (c) => H.num(c.accuracy, 4) },
        { label: "test accuracy (held out)", num: true, value: (c) => H.num(c.test_accuracy, 4) },
        { label: "params (classical + quantum)", num: true, value: (c) => `${c.params_total} (${c.params_classical} + ${c.params_quantum})` },
        { label: "C_q wall-clock", num: true, value: (c) => H.seconds(c.c_q_wallclock_s) },
        { label: "C_c", num: true, value: (c) => H.seconds(c.c_c_s) },
        { label: "C_total", num: true, value: (c) => H.seconds(c.c_total_s) },
        { label: "FLOPs-only", num: true, value: (c) => (c.flops_only == null ? "–" : c.flops_only.toExponential(2)) },
        { label: "runnable", value: (c) => (c.runnable ? "yes" : "no") },
        { label: "Pareto rank", num: true, value: (c) => (c.pareto_rank === null ? "–" : c.pareto_rank) },
      ];
      H.table("#candidates-table", columns, cands, (c) => (c.on_front ? "front" : ""));
      const ok = cands.filter((c) => c.runnable && c.c_total_s > 0);
      if (!ok.length) return H.empty(pareto, pareto.dataset.empty);
      const front = ok.filter((c) => c.on_front).sort((a, b) => a.c_total_s - b.c_total_s);
      const rest = ok.filter((c) => !c.on_front);
      const pmax = Math.max(...ok.map((c) => c.params_total), 1);
      const size = (c) => 8 + 22 * Math.sqrt(c.params_total / pmax);
      const hover = (c) => `gen ${c.generation}<br>${H.esc(genomeText(c.genome))}<br>validation accuracy ${H.num(c.accuracy, 4)}` +
        `<br>C_total ${H.seconds(c.c_total_s)}<br>${c.params_total} parameters<extra></extra>`;
      const marker = (list, extra) => Object.assign({
        size: list.map(size), color: list.map((c) => c.params_total), colorscale: "Viridis",
        cmin: 0, cmax: pmax, line: { width: 1, color: "#333" },
      }, extra);
      const traces = [
        { type: "scatter", mode: "markers", name: "dominated", x: rest.map((c) => c.c_total_s),
          y: rest.map((c) => c.accuracy), hovertemplate: rest.map(hover),
          marker: marker(rest, { opacity: 0.45, symbol: "circle-open", line: { width: 2 } }) },
        // The front is non-dominated in all three objectives (parameters too), so in this 2-D projection it
        // is not a staircase: its points are shown, not joined.
        { type: "scatter", mode: "markers", name: "Pareto front (1−accuracy, C_total, parameters)",
          x: front.map((c) => c.c_total_s), y: front.map((c) => c.accuracy), hovertemplate: front.map(hover),
          marker: marker(front, { line: { width: 2, color: "#b42318" }, colorbar: { title: { text: "parameters" } } }) },
      ];
      await H.plot(pareto, traces, {
        xaxis: { title: { text: "C_total: estimated training cost [s] (log)" }, type: "log" },
        yaxis: { title: { text: "validation accuracy" }, rangemode: "tozero" },
        margin: { l: 64, r: 24, t: 48, b: 56 },
      });
    }

    async function drawHypervolume(run) {
      const el = H.$("#chart-hv");
      const hv = run.hypervolume || [];
      if (!hv.length) return H.empty(el, el.dataset.empty);
      await H.plot(el, [{ type: "scatter", mode: "lines+markers", name: "hypervolume",
        x: hv.map((_, i) => i + 1), y: hv }], {
        xaxis: { title: { text: "generations finished" }, dtick: 1,
          range: [0.5, Math.max(hv.length, (run.progress || {}).generations_total || 0) + 0.5] },
        yaxis: { title: { text: "hypervolume of the front" }, rangemode: "tozero" },
        showlegend: false,
      });
    }

    function schedule(run) {
      const again = !run || cfg.active_statuses.includes(run.status);
      document.body.dataset.polling = again ? "1" : "0";
      if (again) setTimeout(loop, cfg.poll_ms || 3000);
    }
    async function loop() {
      let run = null;
      try { run = await refresh(); } catch (err) { console.warn(String(err)); }  // retried at the next poll
      schedule(run);
    }
    schedule(await refresh());
  };

  // --------------------------------------------------------- /leaderboards/architectures/
  H.pages["leaderboard-architectures"] = async function (cfg) {
    const board = await H.getJSON(cfg.api + H.qs(Object.assign({ limit: 50 }, cfg.filters)));
    const cols = [
      { label: "run", value: (c) => `<a href="/searches/${c.run}/">#${c.run}</a>` },
      { label: "dataset", value: (c) => H.esc(c.dataset) },
      { label: "backend", value: (c) => H.esc(c.backend) },
      { label: "genome", value: (c) => `<code title="${genomeTitle(c.genome)}">${H.esc(genomeText(c.genome))}</code>` },
      { label: "validation accuracy", num: true, value: (c) => H.num(c.accuracy, 4) },
      { label: "test accuracy", num: true, value: (c) => H.num(c.test_accuracy, 4) },
      { label: "params", num: true, value: (c) => c.params_total },
      { label: "C_total", num: true, value: (c) => H.seconds(c.c_total_s) },
      { label: "on front", value: (c) => (c.on_front ? "yes" : "") },
    ];
    H.table("#table-most-accurate", cols, board.most_accurate_within_budget);
    H.table("#table-cheapest", cols, board.cheapest_above_accuracy_floor);

    const seen = new Map();
    board.most_accurate_within_budget.concat(board.cheapest_above_accuracy_floor)
      .filter((c) => c.c_total_s > 0).forEach((c) => seen.set(c.id, c));
    const cands = [...seen.values()];
    const sc = H.$("#chart-leaderboard");
    if (!cands.length) H.empty(sc, sc.dataset.empty);
    else {
      const byRun = new Map();
      cands.forEach((c) => { const k = `#${c.run} ${c.dataset} on ${c.backend}`; if (!byRun.has(k)) byRun.set(k, []); byRun.get(k).push(c); });
      const pmax = Math.max(...cands.map((c) => c.params_total), 1);
      await H.plot(sc, [...byRun.entries()].map(([name, list]) => ({
        type: "scatter", mode: "markers", name, x: list.map((c) => c.c_total_s), y: list.map((c) => c.accuracy),
        marker: { size: list.map((c) => 8 + 20 * Math.sqrt(c.params_total / pmax)), opacity: 0.8,
          line: { width: 1, color: "#333" } },
        hovertemplate: list.map((c) => `${H.esc(genomeText(c.genome))}<br>validation accuracy ${H.num(c.accuracy, 4)}<br>` +
          `C_total ${H.seconds(c.c_total_s)}<br>${c.params_total} parameters<extra></extra>`),
      })), {
        xaxis: { title: { text: "C_total [s] (log)" }, type: "log" }, yaxis: { title: { text: "validation accuracy" } },
      });
    }
    const hvEl = H.$("#chart-hv-by-run");
    const hv = board.hypervolume_by_run || [];
    if (!hv.length) H.empty(hvEl, hvEl.dataset.empty);
    else await H.plot(hvEl, [{ type: "bar", x: hv.map((r) => `#${r.run} ${r.dataset}/${r.backend}`),
      y: hv.map((r) => r.hypervolume), marker: { color: "#2457c5" },
      hovertemplate: hv.map((r) => `${H.esc(r.name)}<br>${r.generations} generations, ${r.status}<br>hypervolume %{y:.4f}<extra></extra>`) }],
    { xaxis: { title: { text: "run" }, type: "category" }, yaxis: { title: { text: "latest front hypervolume" } }, showlegend: false });
  };
})(window.HANAS);
