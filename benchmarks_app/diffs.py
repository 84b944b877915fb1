"""Snapshot diff helpers (issue 16): couplers that changed, Heron's symmetric CZ pairs listed once."""
from __future__ import annotations


# --- snapshot diff: couplers -------------------------------------------------------------------------------------
def diff_couplers(old_edges: dict, new_edges: dict, rel) -> list[dict]:
    """Couplers whose two-qubit gate error changed, largest relative change first. A pair calibrated identically
    in both directions in both snapshots (Heron's symmetric CZ) is one row "a-b" (a < b, ``symmetric``); unchanged
    couplers are left out."""
    def pair_key(key):
        a, b = (int(x) for x in key.split("-"))
        return (min(a, b), max(a, b))

    def same_both_ways(edges, a, b):
        x, y = edges.get(f"{a}-{b}"), edges.get(f"{b}-{a}")
        return x is not None and y is not None and list(x) == list(y)

    rows, seen = [], set()
    for key in sorted(set(new_edges) | set(old_edges), key=pair_key):
        a, b = (int(x) for x in key.split("-"))
        lo, hi = pair_key(key)
        symmetric = same_both_ways(new_edges, lo, hi) and (same_both_ways(old_edges, lo, hi)
                                                           or not any(k in old_edges for k in (f"{lo}-{hi}",
                                                                                             f"{hi}-{lo}")))
        if symmetric:
            if (lo, hi) in seen:
                continue
            seen.add((lo, hi))
            key = f"{lo}-{hi}"
        prev, cur = old_edges.get(key), new_edges.get(key)
        row = {"edge": key, "gate": (cur or prev)[0], "from": prev[1] if prev else None,
               "to": cur[1] if cur else None, "symmetric": symmetric}
        if prev is None:
            rows.append(dict(row, relative_change=None, note="new coupler"))
            continue
        if cur is None:
            rows.append(dict(row, relative_change=None, note="coupler gone"))
            continue
        change = rel(prev[1], cur[1])
        if not change:  # unchanged (0) or unknown on one side (None) with nothing to report
            if change is None and (prev[1] is None) != (cur[1] is None):
                rows.append(dict(row, relative_change=None, note="error reported on one side only"))
            continue
        rows.append(dict(row, relative_change=change, broken_now=cur[1] is not None and cur[1] >= 1,
                         broken_before=prev[1] is not None and prev[1] >= 1))
    rows.sort(key=lambda r: -abs(r["relative_change"]) if r["relative_change"] is not None else 0)
    return rows
