"""Explanations that point at hardware (issue 16, part 3): which calibration terms moved a cost metric between two
reports, and which qubits and couplers moved them, with their before/after values.

Every term's ``delta`` is the exact change of the explained quantity computed from the two reports' own numbers.
Its ``elements`` split that change over the hardware the compiled circuit uses, from the per-gate usage each report
stores (``report["usage"]``, written by :func:`usage_of` when the estimate is made): ``contribution`` values add up
to the term's delta; whatever the stored usage cannot account for (a model change, an older report) is listed as
an ``unattributed`` element, never hidden. Pure functions of the two report dicts: no database access.
"""
from __future__ import annotations

import math

# metric -> (quantity explained, unit of the deltas)
EXPLAINED = {
    "log_t_eff": ("log T_eff", "log"), "t_eff_s": ("log T_eff", "log"),
    "log_esp": ("log ESP", "log"), "log_p_keep": ("log P_keep", "log"),
    "p_success": ("log P_success", "log"), "shots_total": ("log S_total", "log"),
    "wallclock_s": ("wall-clock", "s"), "t_shot_s": ("T_shot", "s"), "t_sched_s": ("T_sched", "s"),
    "t_gate_serial_s": ("T_gate", "s"),
    "n_swaps": ("SWAPs", "count"), "n_2q": ("two-qubit gates", "count"), "depth": ("depth", "count"),
}
BUCKETS = (("1q", "n_1q", "ebar_1q", "1q gate error"), ("2q", "n_2q", "ebar_2q", "2q gate error"),
           ("ro", "n_meas", "ebar_ro", "readout error"))
TOP_ELEMENTS = 5


# --- what a report stores about the hardware it used ---------------------------------------------------------
def usage_of(compiled, calibration) -> dict:
    """Compact per-(gate, qubits) usage of a compiled circuit with the error and duration the snapshot gives each,
    and the T2 of every used qubit: ``{"gates": [[name, [q..], count, error, duration_s], ...],
    "t2_s": [[qubit, t2_s], ...]}``. Errors and durations are read as the cost model reads them (measure: the
    qubit's readout error and length; rz without an error: 0; reset: no error term)."""
    keys = getattr(compiled, "keys", None)
    counts = getattr(compiled, "key_counts", None)
    if keys is None or counts is None:  # count the ops when the compiled form does not carry per-key counts
        tally: dict = {}
        for op in compiled.ops:
            tally[(op[0], tuple(op[1]))] = tally.get((op[0], tuple(op[1])), 0) + 1
        keys, counts = tuple(tally), tuple(tally.values())
    qubits = calibration.qubits
    rows = []
    for (name, qs), count in zip(keys, counts):
        qs = tuple(int(q) for q in qs)
        if name == "measure":
            p = qubits[qs[0]]
            err, dur = p.readout_error, p.readout_length_s
        elif name == "reset":
            g = calibration.gate("reset", qs)
            err, dur = None, (g.duration_s if g else None)
        else:
            g = calibration.gate(name, qs)
            err, dur = (g.error, g.duration_s) if g else (None, None)
            if err is None and name == "rz":
                err = 0.0
        rows.append([name, list(qs), int(count), err, dur])
    used = sorted({q for _, qs, *_ in rows for q in qs})
    return {"gates": rows, "t2_s": [[q, qubits[q].t2_s] for q in used]}


def with_snapshot_t2(report: dict, snapshot_data: dict | None) -> dict:
    """A report stored without ``usage`` (made before reports recorded it, or outside the estimate service),
    given the used qubits' T2 from its snapshot's data and its ``physical_qubits``: the decoherence term can then
    still name its qubit. Per-gate attribution needs the stored usage and stays unavailable."""
    if not isinstance(report, dict) or report.get("usage") or not snapshot_data or not report.get("physical_qubits"):
        return report
    qubits = snapshot_data.get("qubits") or []
    t2 = [[q, qubits[q].get("t2_s")] for q in report["physical_qubits"] if q < len(qubits)]
    return dict(report, usage={"t2_s": t2})


def reports_lacking_usage(reports) -> bool:
    return any(isinstance(r, dict) and not r.get("usage") for r in reports)


# --- helpers ---------------------------------------------------------------------------------------------------
def _log1m(e):
    return -math.inf if e >= 1 else math.log1p(-e)


def _bucket(name: str, qubits) -> str:
    if name == "measure":
        return "ro"
    if name == "reset":
        return "reset"
    return "2q" if len(qubits) == 2 else "1q"


def _element(name: str, qubits) -> dict:
    """The hardware a (gate, qubits) key runs on: a qubit, or a coupler named in gate direction ("3-4")."""
    if len(qubits) == 2:
        return {"kind": "coupler", "coupler": f"{qubits[0]}-{qubits[1]}", "gate": name}
    field = "readout_error" if name == "measure" else "error"
    return {"kind": "qubit", "qubit": qubits[0], "gate": name, "field": field}


def _where(key) -> str:
    name, qubits = key
    return f"coupler {qubits[0]}-{qubits[1]}" if len(qubits) == 2 else f"qubit {qubits[0]}"


def _usage(report) -> dict | None:
    u = report.get("usage") if isinstance(report, dict) else None
    if not u or "gates" not in u:
        return None
    return {(g[0], tuple(g[1])): (g[2], g[3], g[4]) for g in u["gates"]}


def _t2(report) -> dict | None:
    u = report.get("usage") if isinstance(report, dict) else None
    if not u or "t2_s" not in u:
        return None
    return {int(q): t for q, t in u["t2_s"]}


def _secant(f, a, b):
    """(f(b) - f(a)) / (b - a), or f'(a) numerically when a == b: the exact factor turning a change of the
    argument into the change of f, shared out linearly over the parts of the argument's change."""
    if b == a:
        h = max(abs(a), 1e-12) * 1e-6
        return (f(a + h) - f(a - h)) / (2 * h)
    return (f(b) - f(a)) / (b - a)


def _finish(term: dict, elements: list[dict], *, rel_tol: float = 1e-6) -> dict:
    """Attach the largest elements; an element for whatever they do not account for."""
    elements = [e for e in elements if e.get("contribution") not in (None, 0.0)]
    elements.sort(key=lambda e: -abs(e["contribution"]))
    covered = math.fsum(e["contribution"] for e in elements)
    rest = term["delta"] - covered
    if abs(rest) > rel_tol * max(abs(term["delta"]), 1e-12) and abs(rest) > 1e-12:
        elements.append({"kind": "unattributed", "contribution": rest,
                         "note": "not accounted for by the stored per-gate usage (model or compiled circuit changed)"})
    term["elements"] = elements[:TOP_ELEMENTS] + [e for e in elements[TOP_ELEMENTS:] if e["kind"] == "unattributed"]
    term["elements_total"] = len(elements)
    return term


def _term(name, delta, unit, explains, **extra) -> dict:
    return {"term": name, "delta": delta, "unit": unit, "explains": explains, **extra}


# --- the terms ---------------------------------------------------------------------------------------------------
def _bucket_terms(prev, cur, explains: str, sign: float) -> list[dict]:
    """-N_b log(1 - ebar_b) per bucket (log T_eff's form; ``sign`` -1 gives log P_keep's). Elements: each gate's
    share of the change of N_b * ebar_b, through the secant of -N' log(1 - S/N') (exact), plus a routing element
    when the compiled counts changed."""
    ua, ub = _usage(prev), _usage(cur)
    out = []
    for bucket, n_key, e_key, label in BUCKETS:
        na, ea, nb, eb = prev.get(n_key), prev.get(e_key), cur.get(n_key), cur.get(e_key)
        if not nb and not na:
            continue
        if None in (na, nb) or (na and ea is None) or (nb and eb is None):
            continue
        ga = -na * _log1m(ea) if na else 0.0
        gb = -nb * _log1m(eb) if nb else 0.0
        if math.isinf(ga) or math.isinf(gb):
            continue
        delta = sign * (gb - ga)
        term = _term(f"{label} (-N log(1-e))", delta, "log", explains, **{"from": sign * ga, "to": sign * gb})
        elements = []
        if ua is not None and ub is not None and nb:
            s_b = math.fsum(c * e for (name, qs), (c, e, _) in ub.items() if _bucket(name, qs) == bucket and e is not None)
            # S_mid: the new counts at the old errors (keys new to the circuit keep their new error)
            s_mid = math.fsum(c * (ua[k][1] if k in ua and ua[k][1] is not None else e)
                              for k, (c, e, _) in ub.items() if _bucket(*k) == bucket and e is not None)

            def g(s, n=nb):
                return -n * _log1m(min(s / n, 1.0)) if s / n < 1 else math.inf

            slope = _secant(g, s_mid, s_b)
            routing = sign * ((g(s_mid) if nb else 0.0) - ga)
            if abs(routing) > 1e-15:
                left = sorted({_where(k) for k in ua if _bucket(*k) == bucket} - {_where(k) for k in ub
                                                                                  if _bucket(*k) == bucket})
                entered = sorted({_where(k) for k in ub if _bucket(*k) == bucket} - {_where(k) for k in ua
                                                                                     if _bucket(*k) == bucket})
                elements.append({"kind": "routing", "contribution": routing, "left": left, "entered": entered,
                                 "note": "the compiled circuit changed (placement or routing): "
                                         f"{na} -> {nb} {label.split()[0]} operations"
                                         + (f"; no longer on {', '.join(left[:6])}" if left else "")
                                         + (f"; now on {', '.join(entered[:6])}" if entered else "")})
            for k, (c, e, _) in ub.items():
                if _bucket(*k) != bucket or e is None or k not in ua or ua[k][1] is None or ua[k][1] == e:
                    continue
                el = _element(*k)
                el.update({"from": ua[k][1], "to": e, "count": c, "contribution": sign * slope * c * (e - ua[k][1])})
                elements.append(el)
        out.append(_finish(term, elements) if ua is not None and ub is not None else
                   dict(term, elements=[], note="per-gate usage not stored in these reports: re-cost to name qubits"))
    return out


def _t2_elements(prev, cur, factor_a, factor_b, contribution_total) -> tuple[list[dict], str]:
    """Which qubit's T2 is T2_eff before and after (``t2_variant=min``), or every used qubit's share
    (``mean``)."""
    ta, tb = _t2(prev), _t2(cur)
    if ta is None or tb is None:
        return [], "per-qubit T2 not stored in these reports: re-cost to name the qubit"
    variant = (cur.get("options") or {}).get("t2_variant", "min")
    if variant == "min":
        qa = min(ta, key=lambda q: (ta[q] if ta[q] else math.inf, q))
        qb = min(tb, key=lambda q: (tb[q] if tb[q] else math.inf, q))
        el = {"kind": "qubit", "qubit": qb, "field": "t2_s", "from": ta.get(qb), "to": tb[qb],
              "contribution": contribution_total, "role": "T2_eff: the shortest T2 among the used qubits"}
        text = f"qubit {qb}'s T2 {_fmt_s(ta.get(qb))} -> {_fmt_s(tb[qb])}"
        if qa != qb:
            el["replaces"] = {"qubit": qa, "from": ta[qa], "to": tb.get(qa)}
            text += f" (now the shortest among the used qubits; was qubit {qa}'s {_fmt_s(ta[qa])})"
        return [el], text
    # mean variant: d(1/mean) shared over the qubits' T2 changes
    common = [q for q in tb if q in ta and ta[q] and tb[q]]
    ma, mb = math.fsum(ta.values()) / len(ta), math.fsum(tb.values()) / len(tb)
    slope = _secant(lambda m: 1.0 / m, ma, mb)
    els = [{"kind": "qubit", "qubit": q, "field": "t2_s", "from": ta[q], "to": tb[q],
            "contribution": factor_b * slope * (tb[q] - ta[q]) / len(tb)} for q in common if tb[q] != ta[q]]
    return els, "mean T2 over the used qubits"


def _decoherence_term(prev, cur, time_key: str, label: str, explains: str, sign: float) -> dict | None:
    """time / T2_eff, split into the time part and the T2 part; the T2 part names the qubit."""
    t_a, t_b, e_a, e_b = prev.get(time_key), cur.get(time_key), prev.get("t2_eff_s"), cur.get("t2_eff_s")
    if not all((t_a is not None, t_b is not None, e_a, e_b)):
        return None
    ra, rb = t_a / e_a, t_b / e_b
    term = _term(f"decoherence ({label} / T2_eff)", sign * (rb - ra), "log", explains,
                 **{"from": sign * ra, "to": sign * rb, "t2_eff_from": e_a, "t2_eff_to": e_b})
    time_part = sign * (t_b - t_a) / e_a
    t2_part = sign * t_b * (1 / e_b - 1 / e_a)
    elements = []
    if time_part:
        elements.append({"kind": "circuit", "field": time_key, "from": t_a, "to": t_b, "contribution": time_part})
    if t2_part:
        els, text = _t2_elements(prev, cur, 1 / e_a, sign * t_b, t2_part)
        if els:
            term["text"] = text
        else:
            term["note"] = text
        elements.extend(els)
    return _finish(term, elements)


def _log_time_term(prev, cur, explains: str, sign: float = 1.0) -> dict | None:
    """log T_gate (T_gate = sum over ops of the calibrated duration): per-gate duration changes via the secant
    of log."""
    a, b = prev.get("t_gate_serial_s"), cur.get("t_gate_serial_s")
    if not a or not b:
        return None
    term = _term("gate time (log T_gate)", sign * (math.log(b) - math.log(a)), "log s", explains,
                 **{"from": a, "to": b})
    return _finish(term, _duration_elements(prev, cur, sign * _secant(math.log, a, b))) \
        if _usage(prev) is not None and _usage(cur) is not None else term


def _duration_elements(prev, cur, factor: float) -> list[dict]:
    ua, ub = _usage(prev), _usage(cur)
    if ua is None or ub is None:
        return []
    out = []
    for k in set(ua) | set(ub):
        ca, _, da = ua.get(k, (0, None, None))
        cb, _, db = ub.get(k, (0, None, None))
        va, vb = ca * (da or 0.0), cb * (db or 0.0)
        if va == vb:
            continue
        el = _element(*k)
        el.update({"field": "duration_s", "from": da, "to": db, "count": cb, "contribution": factor * (vb - va)})
        if ca != cb:
            el["count_from"] = ca
        out.append(el)
    return out


def _esp_terms(prev, cur) -> list[dict]:
    """log ESP = sum over gates of count * log(1 - e): exact per-gate contributions, grouped by bucket."""
    ua, ub = _usage(prev), _usage(cur)
    a, b = prev.get("log_esp"), cur.get("log_esp")
    if a is None or b is None:
        return []
    if ua is None or ub is None:
        return [_term("gate errors (sum log(1-e))", b - a, "log", "log_esp", **{"from": a, "to": b},
                      elements=[], note="per-gate usage not stored in these reports: re-cost to name qubits")]
    per_bucket: dict[str, list] = {"1q": [], "2q": [], "ro": []}
    for k in set(ua) | set(ub):
        bucket = _bucket(*k)
        if bucket == "reset":
            continue
        ca, ea, _ = ua.get(k, (0, None, None))
        cb, eb, _ = ub.get(k, (0, None, None))
        va = ca * _log1m(ea) if ca and ea is not None else 0.0
        vb = cb * _log1m(eb) if cb and eb is not None else 0.0
        if va == vb or math.isinf(va) or math.isinf(vb):
            continue
        el = _element(*k)
        el.update({"from": ea, "to": eb, "count": cb, "contribution": vb - va})
        if ca != cb:
            el["count_from"] = ca
        per_bucket[bucket].append(el)
    terms = []
    labels = {"1q": "1q gate errors", "2q": "2q gate errors", "ro": "readout errors"}
    for bucket, els in per_bucket.items():
        if els:
            delta = math.fsum(e["contribution"] for e in els)
            terms.append(_finish(_term(f"{labels[bucket]} (sum count log(1-e))", delta, "log", "log_esp"), els))
    covered = math.fsum(t["delta"] for t in terms)
    if abs((b - a) - covered) > 1e-9 * max(abs(b - a), 1e-12) and abs((b - a) - covered) > 1e-12:
        terms.append(_term("unattributed", (b - a) - covered, "log", "log_esp", elements=[],
                           note="not accounted for by the stored per-gate usage"))
    return terms


def _structure_terms(prev, cur, explains: str) -> list[dict]:
    terms = []
    for key, label in (("n_swaps", "SWAPs inserted"), ("n_2q", "two-qubit gates"), ("depth", "depth")):
        a, b = prev.get(key), cur.get(key)
        if a is not None and b is not None and a != b:
            terms.append(_term(label, b - a, "count", explains, **{"from": a, "to": b}))
    ua, ub = _usage(prev), _usage(cur)
    if ua is not None and ub is not None:
        left = sorted({f"{k[1][0]}-{k[1][1]}" for k in ua if len(k[1]) == 2} - {f"{k[1][0]}-{k[1][1]}" for k in ub
                                                                                  if len(k[1]) == 2})
        entered = sorted({f"{k[1][0]}-{k[1][1]}" for k in ub if len(k[1]) == 2} - {f"{k[1][0]}-{k[1][1]}" for k in ua
                                                                                     if len(k[1]) == 2})
        if left or entered:
            terms.append(_term("couplers used", len(entered) - len(left), "count", explains,
                               elements=[{"kind": "coupler", "coupler": c, "change": "left"} for c in left]
                               + [{"kind": "coupler", "coupler": c, "change": "entered"} for c in entered]))
    return terms


def _shot_time_terms(prev, cur, explains: str, factor_a: float = 1.0, factor_b: float = 1.0) -> list[dict]:
    """T_shot = T_sched + rep_delay + reset, each scaled (wall-clock: by the shots)."""
    terms = []
    for key, label in (("t_sched_s", "schedule length T_sched"), ("rep_delay_s", "repetition delay"),
                       ("t_reset_s", "reset")):
        a, b = prev.get(key), cur.get(key)
        if a is None or b is None or a == b:
            continue
        term = _term(label + (" x shots" if factor_b != 1.0 else ""), factor_b * (b - a), "s", explains,
                     **{"from": a, "to": b})
        if key == "t_sched_s":  # the critical path: name the gates whose durations changed (no exact split)
            changed = [dict(e, contribution=None, share="on or off the critical path")
                       for e in _duration_elements(prev, cur, 1.0) if e.get("count_from") is None]
            changed.sort(key=lambda e: -abs((e["to"] or 0) - (e["from"] or 0)))
            term["elements"] = changed[:TOP_ELEMENTS]
        terms.append(term)
    return terms


# --- entry point -----------------------------------------------------------------------------------------------
def explain(prev: dict, cur: dict, metric: str = "log_t_eff") -> list[dict]:
    """The terms that moved ``metric`` between two reports, largest first, each naming the qubits and couplers
    responsible (``elements``). Raises KeyError for a metric it cannot explain."""
    if metric not in EXPLAINED:
        raise KeyError(metric)
    what, _ = EXPLAINED[metric]
    terms: list[dict] = []
    if metric in ("log_t_eff", "t_eff_s"):
        terms += [t for t in (_log_time_term(prev, cur, what),) if t]
        terms += _bucket_terms(prev, cur, what, 1.0)
        terms += [t for t in (_decoherence_term(prev, cur, "t_gate_serial_s", "T_gate", what, 1.0),) if t]
    elif metric == "log_esp":
        terms += _esp_terms(prev, cur)
    elif metric == "log_p_keep":
        terms += _bucket_terms(prev, cur, what, -1.0)
    elif metric in ("p_success", "shots_total"):
        sign = -1.0 if metric == "p_success" else 1.0  # log S_total = log S - log P_success
        terms += _bucket_terms(prev, cur, what, sign)
        terms += [t for t in (_decoherence_term(prev, cur, "t_sched_s", "T_sched", what, sign),) if t]
        if metric == "shots_total" and prev.get("shots") and cur.get("shots") and prev["shots"] != cur["shots"]:
            terms.append(_term("shots requested (log S)", math.log(cur["shots"]) - math.log(prev["shots"]), "log",
                               what, **{"from": prev["shots"], "to": cur["shots"]}))
    elif metric in ("wallclock_s", "t_shot_s", "t_sched_s"):
        shots_b = cur.get("shots") or 1
        factor = float(shots_b) if metric == "wallclock_s" else 1.0
        terms += _shot_time_terms(prev, cur, what, factor, factor)
        if metric == "t_sched_s":
            terms = [t for t in terms if t["term"].startswith("schedule")]
        if metric == "wallclock_s":
            if prev.get("shots") != cur.get("shots") and prev.get("t_shot_s") is not None:
                terms.append(_term("shots", (cur["shots"] - prev["shots"]) * prev["t_shot_s"], "s", what,
                                   **{"from": prev["shots"], "to": cur["shots"]}))
            c_instr = (cur.get("execution_profile") or {}).get("c_instruction_s") or 0.0
            if c_instr and prev.get("n_instructions") != cur.get("n_instructions"):
                terms.append(_term("instructions x c_instruction",
                                   c_instr * ((cur.get("n_instructions") or 0) - (prev.get("n_instructions") or 0)),
                                   "s", what))
    elif metric == "t_gate_serial_s":
        a, b = prev.get("t_gate_serial_s"), cur.get("t_gate_serial_s")
        if a is not None and b is not None:
            terms.append(_finish(_term("gate durations (sum count x duration)", b - a, "s", what,
                                       **{"from": a, "to": b}), _duration_elements(prev, cur, 1.0))
                         if _usage(prev) is not None and _usage(cur) is not None else
                         _term("gate durations", b - a, "s", what, **{"from": a, "to": b}))
    else:  # structural metrics
        terms += _structure_terms(prev, cur, what)
    terms = [t for t in terms if t["delta"] != 0]
    rest = _residual(prev, cur, metric, terms)
    if rest is not None:
        terms.append(rest)
    terms.sort(key=lambda t: -abs(t["delta"]))
    for t in terms:
        t["explains"], t["quantity"] = metric, what
        t.setdefault("text", _describe(t))
    return terms


LOG_METRICS = {"t_eff_s", "p_success", "shots_total"}


def _residual(prev, cur, metric, terms) -> dict | None:
    """The part of the metric's exact change the terms do not cover (a fixed repetition rate, where T_shot =
    max(rep_time, T_sched + reset); a model change), as its own term: the terms always add up."""
    if metric in ("n_swaps", "n_2q", "depth"):
        return None
    a, b = prev.get(metric), cur.get(metric)
    if a is None or b is None:
        return None
    if metric in LOG_METRICS:
        if a <= 0 or b <= 0:
            return None
        a, b = math.log(a), math.log(b)
    rest = (b - a) - math.fsum(t["delta"] for t in terms)
    if abs(rest) <= 1e-9 * max(abs(b - a), abs(a), 1e-12):
        return None
    fixed = any("fixed repetition rate" in str(n) for n in (prev.get("notes") or []) + (cur.get("notes") or []))
    name = ("fixed repetition rate (T_shot = max(rep_time, T_sched + reset))" if fixed and metric in
            ("wallclock_s", "t_shot_s") else "unattributed")
    unit = "log" if EXPLAINED[metric][1] == "log" else EXPLAINED[metric][1]
    return _term(name, rest, unit, metric, elements=[],
                 note="the part of the change the terms above do not account for")


def _fmt_s(v) -> str:
    if v is None:
        return "?"
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} s"


def _describe(term: dict) -> str:
    """One line naming the largest hardware element of a term."""
    els = [e for e in term.get("elements", []) if e.get("kind") in ("qubit", "coupler")]
    if not els:
        return term["term"]
    e = els[0]
    where = f"qubit {e['qubit']}" if e["kind"] == "qubit" else f"coupler {e['coupler']}"
    field = e.get("field") or "error"
    if field in ("t2_s", "duration_s"):
        change = f"{_fmt_s(e.get('from'))} -> {_fmt_s(e.get('to'))}"
    elif "from" in e:
        change = f"{e.get('from'):.3g} -> {e.get('to'):.3g}" if e.get("from") is not None and e.get("to") is not None \
            else f"{e.get('from')} -> {e.get('to')}"
    else:
        change = e.get("change", "")
    gate = f" {e['gate']}" if e.get("gate") and field != "t2_s" else ""
    return f"{where}{gate} {field.replace('_s', '')} {change}".strip()
