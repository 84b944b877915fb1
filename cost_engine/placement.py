"""Calibration-aware placement of a circuit routed on a device's structure (COST_MODEL.md, "Compilation").

qiskit's ``transpile(qc, backend)`` picks physical qubits with its noise-aware VF2 passes: ``VF2Layout`` when
the circuit fits the coupling map as it is, ``VF2PostLayout`` after SABRE routing otherwise. Both enumerate
subgraph isomorphisms of the circuit's interaction graph into the coupling graph (rustworkx's VF2, at most
2,500 of them within 50,000 calls at optimisation levels 1-2) and keep the one whose estimated error is lowest.
SABRE itself does not look at errors, so the routed circuit depends only on the device's structure.

The platform splits that work the same way, so re-costing on a new snapshot is cheap:

1. structure (cached per device structure): qiskit's preset pass manager on the error-free target; the
   routed, translated circuit and the list of its embeddings into the coupling graph (same VF2 limits);
2. snapshot (cached per snapshot): each embedding is scored with the snapshot's own errors: the sum over the
   compiled operations of log(1 - e), i.e. the circuit's log ESP on that placement (COST_MODEL.md A5), and
   the best is kept. Where the device's two-qubit gate is directed (Eagle's ECR, Falcon's one-way CX) and
   the placement reverses some of them, they are repaired as qiskit's translation stage does
   (cost_engine.direction_repair, checked gate for gate against qiskit's passes in :func:`repair_directions`).

Checked against ``transpile`` on the same calibrated target in ``benchmarks/bench_layout.py``.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .calibration import Calibration
from .compiling import _SKIP

VF2_CALL_LIMIT = 50_000  # qiskit's preset limits for optimisation levels 1 and 2 (get_vf2_limits)
VF2_MAX_TRIALS = 2_500
SHUFFLE_SEED = 7


@dataclass(frozen=True)
class Interaction:
    """What placement scoring needs of a compiled circuit, on its used physical qubits 0..n-1 (``used``)."""

    used: tuple[int, ...]  # physical qubits of the structure-compiled circuit, sorted
    one_q: tuple  # ((name, local qubit, count), ...) single-qubit operations with an error, and measure
    two_q: tuple  # ((name, local a, local b, count), ...)
    linked: tuple[int, ...]  # local qubits with a two-qubit operation: the VF2 pattern's nodes, in order
    embeddings: np.ndarray  # K x len(linked): physical qubit of each linked qubit, one row per embedding


_GRAPHS: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def _device_graph(calibration: Calibration, exclude_broken: bool):
    """Undirected coupling graph of the usable couplers, cached per device structure."""
    import rustworkx as rx

    key = calibration.structure_key(exclude_broken)
    with _LOCK:
        hit = _GRAPHS.get(key)
    if hit is not None:
        return hit
    edges = calibration.usable_coupling_map() if exclude_broken else calibration.coupling_map
    graph = rx.PyGraph(multigraph=False)
    graph.add_nodes_from(range(calibration.num_qubits))
    graph.add_edges_from_no_data(sorted({(min(a, b), max(a, b)) for a, b in edges}))
    dead = set(calibration.non_operational_qubits) if exclude_broken else set()
    alive = np.ones(calibration.num_qubits, dtype=bool)
    alive[list(dead)] = False
    with _LOCK:
        _GRAPHS[key] = (graph, alive)
        while len(_GRAPHS) > 32:
            _GRAPHS.popitem(last=False)
    return graph, alive


def interaction(keys, key_counts, calibration: Calibration, exclude_broken: bool) -> Interaction:
    """The interaction profile of a compiled circuit (its distinct (name, physical qubits) keys and counts)
    and its embeddings into the device's coupling graph."""
    used = tuple(sorted({q for _, qs in keys for q in qs}))
    local = {q: i for i, q in enumerate(used)}
    one_q, two_q = [], []
    for (name, qs), count in zip(keys, key_counts):
        if len(qs) == 1:
            if name != "reset" and name not in _SKIP and not name.startswith("delay"):
                one_q.append((name, local[qs[0]], count))
        elif len(qs) == 2:
            two_q.append((name, local[qs[0]], local[qs[1]], count))
    graph, alive = _device_graph(calibration, exclude_broken)
    linked = tuple(sorted({q for _, a, b, _ in two_q for q in (a, b)}))
    # qubits without two-qubit operations are left out of the VF2 pattern (as isolated nodes they would only
    # multiply the embeddings of the rest): best_embedding places them afterwards on the best free qubits
    node = {q: i for i, q in enumerate(linked)}
    pairs = sorted({(min(node[a], node[b]), max(node[a], node[b])) for _, a, b, _ in two_q})
    if not pairs:
        embeddings = np.empty((0, 0), dtype=np.int64)
    else:
        embeddings = _embeddings(calibration.structure_key(exclude_broken), graph, alive, len(linked), tuple(pairs))
        # the structure compile's own placement is always a candidate (first: it wins ties)
        own = np.asarray([[used[q] for q in linked]], dtype=np.int64)
        embeddings = np.concatenate([own, embeddings]) if alive[own].all() else embeddings
    return Interaction(used=used, one_q=tuple(one_q), two_q=tuple(two_q), linked=linked, embeddings=embeddings)


_EMBEDDINGS: OrderedDict = OrderedDict()


def _embeddings(structure: str, graph, alive, n: int, pairs: tuple) -> np.ndarray:
    """Embeddings of the interaction graph (``n`` nodes, undirected ``pairs``) into the device's coupling
    graph, in rustworkx's VF2 order, within qiskit's level-1 limits; cached per (device structure, graph):
    circuits of one shape (a 10-qubit chain, a ring ...) share them."""
    import rustworkx as rx

    key = (structure, n, pairs)
    with _LOCK:
        hit = _EMBEDDINGS.get(key)
        if hit is not None:
            _EMBEDDINGS.move_to_end(key)
            return hit
    pattern = rx.PyGraph(multigraph=False)
    pattern.add_nodes_from(range(n))
    pattern.add_edges_from_no_data(list(pairs))
    # VF2 visits the device in node order, so the first few thousand embeddings crowd into one corner of it;
    # like qiskit's VF2 passes (shuffle_seed), relabel the device with a seeded permutation first so that the
    # trials spread over the whole lattice
    order = np.random.default_rng(SHUFFLE_SEED).permutation(graph.num_nodes())
    shuffled = rx.PyGraph(multigraph=False)
    shuffled.add_nodes_from(range(graph.num_nodes()))
    inverse = np.argsort(order)
    shuffled.add_edges_from_no_data([(int(inverse[a]), int(inverse[b])) for a, b in graph.edge_list()])
    phys, virt = [], []
    for mapping in rx.vf2_mapping(shuffled, pattern, subgraph=True, induced=False, id_order=True,
                                  call_limit=VF2_CALL_LIMIT):
        phys.append(list(mapping.keys()))
        virt.append(list(mapping.values()))
        if len(phys) >= VF2_MAX_TRIALS:
            break
    embeddings = np.zeros((len(phys), n), dtype=np.int64)
    if phys:
        np.put_along_axis(embeddings, np.asarray(virt, dtype=np.int64), order[np.asarray(phys, dtype=np.int64)],
                          axis=1)
        embeddings = embeddings[alive[embeddings].all(axis=1)]
    embeddings.setflags(write=False)
    with _LOCK:
        _EMBEDDINGS[key] = embeddings
        while len(_EMBEDDINGS) > 256:
            _EMBEDDINGS.popitem(last=False)
    return embeddings


_TABLES: OrderedDict = OrderedDict()


def usable_gates(calibration: Calibration, exclude_broken: bool = True) -> frozenset:
    """(name, qubits) of the two-qubit gates placement may use: calibrated and, with ``exclude_broken``, not
    broken (error >= 1), not flagged non-operational, on operational qubits. Cached on the snapshot object."""
    key = f"_usable_2q_{bool(exclude_broken)}"
    hit = calibration.__dict__.get(key)
    if hit is None:
        dead, faulty = set(calibration.non_operational_qubits), set(calibration.faulty_gates)
        hit = calibration.__dict__[key] = frozenset(
            (g.name, g.qubits) for g in calibration.gates
            if len(g.qubits) == 2 and (not exclude_broken or (not g.broken and (g.name, g.qubits) not in faulty
                                                              and not dead & set(g.qubits))))
    return hit


def _log_keep_tables(calibration: Calibration, exclude_broken: bool = True):
    """Per snapshot: log(1 - e) per (1q gate name, qubit), per measured qubit, and per (2q gate name, pair),
    the pair in either direction (a reversed directed gate is repaired, at the reverse gate's error).
    Unknown errors count as -inf, so a placement on them is chosen only if nothing else exists (and then
    scoring names the missing value)."""
    key = (calibration.content_hash, bool(exclude_broken))
    with _LOCK:
        hit = _TABLES.get(key)
    if hit is not None:
        return hit
    n = calibration.num_qubits
    one: dict[str, np.ndarray] = {}
    two: dict[str, np.ndarray] = {}
    usable = usable_gates(calibration, exclude_broken)
    for g in calibration.gates:
        if len(g.qubits) == 2 and (g.name, g.qubits) not in usable:
            continue  # broken or flagged non-operational: never placed on (the other direction may be)
        if len(g.qubits) == 1:
            arr = one.get(g.name)
            if arr is None:
                arr = one[g.name] = np.full(n, -np.inf)
            err = 0.0 if g.error is None and g.name == "rz" else g.error
            arr[g.qubits[0]] = -np.inf if err is None or err >= 1 else math.log1p(-err)
        elif len(g.qubits) == 2:
            arr = two.get(g.name)
            if arr is None:
                arr = two[g.name] = np.full((n, n), np.nan)
            a, b = g.qubits
            arr[a, b] = -np.inf if g.error is None or g.error >= 1 else math.log1p(-g.error)
    for arr in two.values():
        missing = np.isnan(arr)
        arr[missing] = arr.T[missing]  # reversed direction: the coupler's own error
        arr[np.isnan(arr)] = -np.inf
    meas = np.asarray([-np.inf if q.readout_error is None or q.readout_error >= 1 else math.log1p(-q.readout_error)
                       for q in calibration.qubits])
    one["measure"] = meas
    tables = (one, two)
    with _LOCK:
        _TABLES[key] = tables
        while len(_TABLES) > 64:
            _TABLES.popitem(last=False)
    return tables


def best_embedding(inter: Interaction, calibration: Calibration, exclude_broken: bool = True
                   ) -> tuple[np.ndarray, float]:
    """Physical qubit of each local qubit: the embedding of the two-qubit-linked qubits with the highest log
    ESP on this snapshot (ties: the first candidate, the structure compile's own placement), then the other
    qubits one by one, busiest first, on the best free working qubit; and the placement's score. The score is
    exact for the operations as routed; where directed gates land reversed, the single-qubit gates their
    repair adds are not in it."""
    one, two = _log_keep_tables(calibration, exclude_broken)
    n_dev = calibration.num_qubits
    n = len(inter.used)
    row = np.full(n, -1, dtype=np.int64)
    score = 0.0
    linked = list(inter.linked)
    if linked:
        emb = inter.embeddings
        col = {q: i for i, q in enumerate(linked)}
        # vectorised over the candidates: per linked qubit, its single-qubit gate counts x log(1 - e) summed
        # into one table over the device (one matrix product), gathered at every candidate's qubits at once;
        # per two-qubit gate name, every pair's log(1 - e) gathered at once
        names = sorted({name for name, v, _ in inter.one_q if name in one and v in col})
        if names:
            counts = np.zeros((len(linked), len(names)))
            index = {name: i for i, name in enumerate(names)}
            for name, v, count in inter.one_q:
                if name in index and v in col:
                    counts[col[v], index[name]] += count
            # -inf (broken, unknown) floored to a finite -1e12 so that a zero count times it stays 0, not NaN
            per_qubit = counts @ np.vstack([np.maximum(one[name], -1e12) for name in names])  # linked x device
            total = per_qubit[np.arange(len(linked))[None, :], emb].sum(axis=1)
        else:
            total = np.zeros(len(emb))
        by_name: dict[str, list] = {}
        for name, a, b, count in inter.two_q:
            if name in two:
                by_name.setdefault(name, []).append((col[a], col[b], count))
        for name, rows in by_name.items():
            a_idx, b_idx, cnt = (np.asarray(x) for x in zip(*rows))
            total = total + (two[name][emb[:, a_idx], emb[:, b_idx]] * cnt).sum(axis=1)
        best = int(np.argmax(total))
        row[linked] = emb[best]
        score = float(total[best])
    rest = [v for v in range(n) if row[v] < 0]
    if rest:
        weights = np.zeros((n, n_dev))
        load = np.zeros(n)
        for name, v, count in inter.one_q:
            load[v] += count
            table = one.get(name)
            if table is not None:
                weights[v] += count * table
        _, alive = _device_graph(calibration, exclude_broken)
        free = alive.copy()
        free[row[row >= 0]] = False
        for v in sorted(rest, key=lambda v: -load[v]):
            cand = np.where(free, weights[v], -np.inf)
            if not np.isfinite(cand).any():
                cand = np.where(free, 0.0, -np.inf)
            row[v] = int(np.argmax(cand))
            free[row[v]] = False
            score += float(weights[v, row[v]])
    return row, score


def reversed_pairs(inter: Interaction, row: np.ndarray, calibration: Calibration, exclude_broken: bool = True
                   ) -> tuple:
    """The (name, local a, local b) two-qubit operations that land on a pair the device calibrates only the
    other way round (empty on devices whose two-qubit gate is calibrated both ways, such as Heron's CZ)."""
    usable = usable_gates(calibration, exclude_broken)
    return tuple((name, a, b) for name, a, b, _ in inter.two_q if (name, (int(row[a]), int(row[b]))) not in usable
                 and (name, (int(row[b]), int(row[a]))) in usable)


def repair_directions(circuit, directions, basis_gates, optimize_1q: bool = True):
    """qiskit's direction fix-up on the whole circuit, as the preset translation stage does it: GateDirection
    reverses the two-qubit gates that may only run as ``directions`` (pairs of ``circuit``'s own qubit indices)
    allow, BasisTranslator writes the inserted gates in the basis and (``optimize_1q``)
    Optimize1qGatesDecomposition re-synthesises single-qubit runs. The reference that
    cost_engine.direction_repair reproduces run by run (and its fallback), and how a repaired placement's
    qiskit circuit is built when asked for."""
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.transpiler import CouplingMap, PassManager
    from qiskit.transpiler.passes import BasisTranslator, GateDirection, Optimize1qGatesDecomposition

    basis = list(basis_gates)
    cmap = CouplingMap()
    for q in range(circuit.num_qubits):
        cmap.add_physical_qubit(q)
    for a, b in sorted(set(directions)):
        cmap.add_edge(a, b)
    passes = [GateDirection(cmap), BasisTranslator(SessionEquivalenceLibrary,
                                                   basis + ["measure", "reset", "delay", "barrier"])]
    if optimize_1q:  # optimisation levels 1-3 run it after translation; level 0 does not
        passes.append(Optimize1qGatesDecomposition(basis=basis))
    return PassManager(passes).run(circuit)
