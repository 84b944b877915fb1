/* Hyb-HANAS dashboard helpers (hand-written, no build step). Every page reads the platform's own REST API
 * (same origin) and draws with Plotly, which the platform serves itself. Page scripts register themselves in
 * HANAS.pages[<body data-page>] and get the JSON config the page view rendered into #page-config. */
(function () {
  "use strict";

  const H = { pages: {} };

  // ------------------------------------------------------------------------------------ fetching
  H.getJSON = async function (url) {
    const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      const detail = body && (body.detail || body.error || JSON.stringify(body));
      const err = new Error(`${url}: HTTP ${resp.status}${detail ? " – " + detail : ""}`);
      err.status = resp.status;
      throw err;
    }
    return body;
  };

  /** Every row of a (possibly paginated) DRF list, following `next` links up to `maxPages`. */
  H.getAll = async function (url, maxPages) {
    const rows = [];
    let next = url, pages = 0;
    while (next && pages < (maxPages || 20)) {
      const body = await H.getJSON(next);
      if (Array.isArray(body)) { rows.push(...body); break; }
      rows.push(...(body.results || []));
      next = body.next || null;
      pages += 1;
    }
    return rows;
  };

  H.qs = function (params) {
    const sp = new URLSearchParams();
    Object.entries(params).forEach(([k, v]) => { if (v !== undefined && v !== null && v !== "") sp.set(k, v); });
    const s = sp.toString();
    return s ? "?" + s : "";
  };

  // ---------------------------------------------------------------------------------- formatting
  H.num = function (v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits === undefined ? 2 : digits);
    return v.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 4 : digits });
  };
  /** Seconds shown with a readable unit. */
  H.seconds = function (s) {
    if (s === null || s === undefined) return "–";
    const a = Math.abs(s);
    if (a === 0) return "0 s";
    if (a < 1e-6) return H.num(s * 1e9, 1) + " ns";
    if (a < 1e-3) return H.num(s * 1e6, 1) + " µs";
    if (a < 1) return H.num(s * 1e3, 2) + " ms";
    if (a < 120) return H.num(s, 2) + " s";
    if (a < 7200) return H.num(s / 60, 1) + " min";
    return H.num(s / 3600, 1) + " h";
  };
  H.pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(2) + " %");
  H.date = function (iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  };
  H.esc = function (s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  };

  // ------------------------------------------------------------------------------------ DOM bits
  H.$ = (sel, root) => (root || document).querySelector(sel);

  /** Mark a chart container as deliberately empty (the e2e tests accept "empty" only where no data exists). */
  H.empty = function (el, message) {
    if (typeof el === "string") el = H.$(el);
    if (!el) return;
    if (window.Plotly && el.classList.contains("js-plotly-plot")) window.Plotly.purge(el);
    el.innerHTML = `<div class="empty">${H.esc(message || "No data yet.")}</div>`;
    el.dataset.state = "empty";
  };
  H.fail = function (el, err) {
    if (typeof el === "string") el = H.$(el);
    if (!el) return;
    el.innerHTML = `<div class="error-box">Could not load: ${H.esc(err && err.message ? err.message : err)}</div>`;
    el.dataset.state = "error";
  };

  /** Plotly.react with the dashboard's defaults; marks the container rendered once Plotly has drawn it. */
  H.plot = async function (el, traces, layout, config) {
    if (typeof el === "string") el = H.$(el);
    if (el.dataset.state === "empty" || el.dataset.state === "error") el.innerHTML = "";
    const base = {
      margin: { l: 64, r: 24, t: 48, b: 52 }, font: { family: "system-ui, sans-serif", size: 12 },
      paper_bgcolor: "#fff", plot_bgcolor: "#fff", hovermode: "closest",
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    };
    await window.Plotly.react(el, traces, Object.assign(base, layout || {}),
      Object.assign({ responsive: true, displaylogo: false }, config || {}));
    el.dataset.state = "chart";
    return el;
  };

  /** Render rows into a <table class="data">. columns: [{label, value(row) -> html string, num: bool}] */
  H.table = function (el, columns, rows, rowClass) {
    if (typeof el === "string") el = H.$(el);
    if (!rows.length) { H.empty(el, el.dataset.empty || "No rows yet."); return; }
    const head = columns.map((c) => `<th class="${c.num ? "num" : ""}">${H.esc(c.label)}</th>`).join("");
    const body = rows.map((r) => `<tr class="${rowClass ? rowClass(r) : ""}">` +
      columns.map((c) => `<td class="${c.num ? "num" : ""}">${c.value(r)}</td>`).join("") + "</tr>").join("");
    el.innerHTML = `<div class="table-wrap"><table class="data"><thead><tr>${head}</tr></thead>` +
      `<tbody>${body}</tbody></table></div>`;
    el.dataset.state = "table";
  };

  H.status = (s) => `<span class="status ${H.esc(s)}">${H.esc(s)}</span>`;

  // ------------------------------------------------------------------------------- graph layout
  /** Deterministic 2-D layout of a graph (e.g. a coupling map) by stress majorisation (SMACOF) on
   *  shortest-path distances, started from classical MDS. No randomness: the same graph always gets the
   *  same picture. Returns [[x, y], ...] for nodes 0..n-1. Disconnected parts are placed side by side. */
  H.graphLayout = function (n, edges) {
    const adj = Array.from({ length: n }, () => []);
    edges.forEach(([a, b]) => { if (a !== b && a < n && b < n) { adj[a].push(b); adj[b].push(a); } });
    // BFS distances
    const D = Array.from({ length: n }, () => new Float64Array(n).fill(Infinity));
    for (let s = 0; s < n; s++) {
      const d = D[s]; d[s] = 0; const q = [s];
      for (let i = 0; i < q.length; i++) {
        const u = q[i];
        for (const v of adj[u]) if (d[v] === Infinity) { d[v] = d[u] + 1; q.push(v); }
      }
    }
    // components
    const comp = new Int32Array(n).fill(-1); const comps = [];
    for (let s = 0; s < n; s++) {
      if (comp[s] >= 0) continue;
      const members = [];
      for (let v = 0; v < n; v++) if (D[s][v] < Infinity) { comp[v] = comps.length; members.push(v); }
      comps.push(members);
    }
    const pos = Array.from({ length: n }, () => [0, 0]);
    let offsetX = 0;
    comps.forEach((members) => {
      const m = members.length;
      const P = layoutComponent(members, D);
      let minX = Infinity, maxX = -Infinity, minY = Infinity;
      P.forEach(([x, y]) => { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); });
      for (let i = 0; i < m; i++) pos[members[i]] = [P[i][0] - minX + offsetX, P[i][1] - minY];
      offsetX += (maxX - minX) + 2;
    });
    return pos;
  };

  function layoutComponent(members, D) {
    const m = members.length;
    if (m === 1) return [[0, 0]];
    const d = (i, j) => D[members[i]][members[j]];
    // classical MDS: double-centred squared distances, top-2 eigenvectors by power iteration
    const B = Array.from({ length: m }, () => new Float64Array(m));
    const rowMean = new Float64Array(m); let all = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) { const v = d(i, j) ** 2; rowMean[i] += v / m; all += v; }
    all /= m * m;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) B[i][j] = -0.5 * (d(i, j) ** 2 - rowMean[i] - rowMean[j] + all);
    const vecs = [];
    for (let k = 0; k < 2; k++) {
      let v = new Float64Array(m).map((_, i) => Math.cos(1.7 * i + k) + 0.01 * i);
      let lambda = 0;
      for (let it = 0; it < 200; it++) {
        const w = new Float64Array(m);
        for (let i = 0; i < m; i++) { let s = 0; for (let j = 0; j < m; j++) s += B[i][j] * v[j]; w[i] = s; }
        vecs.forEach(([u, l]) => { let dot = 0; for (let i = 0; i < m; i++) dot += w[i] * u[i]; for (let i = 0; i < m; i++) w[i] -= dot * u[i]; });
        let norm = 0; for (let i = 0; i < m; i++) norm += w[i] * w[i]; norm = Math.sqrt(norm) || 1;
        lambda = norm; v = w.map((x) => x / norm);
      }
      vecs.push([v, lambda]);
    }
    let X = Array.from({ length: m }, (_, i) => [vecs[0][0][i] * Math.sqrt(vecs[0][1]), vecs[1][0][i] * Math.sqrt(vecs[1][1])]);
    // SMACOF (Guttman transform) with weights 1/d^2
    for (let it = 0; it < 150; it++) {
      const Y = Array.from({ length: m }, () => [0, 0]);
      for (let i = 0; i < m; i++) {
        let wsum = 0;
        for (let j = 0; j < m; j++) {
          if (i === j) continue;
          const dij = d(i, j), w = 1 / (dij * dij);
          const dx = X[i][0] - X[j][0], dy = X[i][1] - X[j][1];
          const dist = Math.sqrt(dx * dx + dy * dy) || 1e-9;
          Y[i][0] += w * (X[j][0] + dij * dx / dist);
          Y[i][1] += w * (X[j][1] + dij * dy / dist);
          wsum += w;
        }
        Y[i][0] /= wsum; Y[i][1] /= wsum;
      }
      X = Y;
    }
    return X;
  }

  // ------------------------------------------------------------------------------------ boot
  H.config = function () {
    const el = document.getElementById("page-config");
    try { return el ? JSON.parse(el.textContent) || {} : {}; } catch (e) { return {}; }
  };

  window.HANAS = H;
  window.addEventListener("DOMContentLoaded", function () {
    const page = document.body.dataset.page;
    const init = page && H.pages[page];
    if (!init) { document.body.dataset.ready = "1"; return; }
    Promise.resolve().then(() => init(H.config())).catch((err) => {
      console.error(err);  // surfaces in the browser log, which the e2e tests check
    }).finally(() => { document.body.dataset.ready = "1"; });
  });
})();
