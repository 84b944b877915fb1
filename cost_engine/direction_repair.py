"""Direction repair of a placed circuit without recompiling it (COST_MODEL.md A1, "Which physical qubits").

When a placement puts a directed two-qubit gate (Eagle's ECR) on a pair the device runs only the other way,
qiskit's translation stage reverses it: GateDirection surrounds the reversed gate with fixed single-qubit
gates, BasisTranslator writes them in the basis and Optimize1qGatesDecomposition re-synthesises every run of
single-qubit gates they joined. Only those runs change; everything else in the circuit stays as it was.

:class:`GapModel` keeps a compiled circuit as its two-qubit gates and, per wire, the "gaps" between them
(the single-qubit operations in order, possibly none), with the dependency chains the critical path needs
(one chain per gap, one per two-qubit gate, one per barrier). :func:`repair` then re-synthesises only the
runs next to reversed gates, with qiskit's own passes run on just those runs, and rebuilds the scoring data
in time proportional to the number of two-qubit gates. The result equals qiskit's GateDirection +
BasisTranslator + Optimize1qGatesDecomposition on the whole circuit (tested gate for gate, and its critical
path against ``estimate_duration`` of that circuit).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

_SYNC = {"barrier"}
_RUN_BREAKERS = {"measure", "reset", "barrier"}  # and delays ("delay:<seconds>"): qiskit's 1q runs end there


def _breaks_run(name: str) -> bool:
    return name in _RUN_BREAKERS or name.startswith("delay")


def _timed(name: str) -> bool:
    """Operations that become keys (scored): everything in a gap but a one-qubit barrier."""
    return name != "barrier"


@dataclass(frozen=True)
class Gap:
    """The single-qubit operations between two nodes on one wire, each as (name, params) in time order."""

    wire: int
    ops: tuple
    one_run: bool  # all single-qubit gates (or empty): fix-ups on both sides join one run
    lead: tuple  # the leading run of gates
    mid: tuple  # names between the leading and trailing runs
    trail: tuple  # the trailing run of gates


@dataclass(frozen=True)
class GapModel:
    n: int
    nodes: tuple  # per two-qubit gate / barrier: (name, local qubits, gap before on each qubit)
    gaps: tuple  # Gap per gap
    chain_of_gap: tuple  # chain id of each gap
    chain_of_node: tuple  # chain id of each node
    chain_preds: tuple
    gaps_after_node: tuple  # per node: the gap after it on each of its qubits
    keys: dict  # (name, local qubits) -> index, for the unrepaired circuit
    chain_ops: tuple  # per chain: numpy array of key indices (unrepaired)


def _gap(w: int, ops: tuple) -> Gap:
    k = 0
    while k < len(ops) and not _breaks_run(ops[k][0]):
        k += 1
    if k == len(ops):
        return Gap(w, ops, True, ops, (), ())
    j = len(ops)
    while j > k and not _breaks_run(ops[j - 1][0]):
        j -= 1
    return Gap(w, ops, False, ops[:k], tuple(op[0] for op in ops[k:j]), ops[j:])


def gap_model(circuit, wires: dict | None = None, dt_s: float | None = None) -> GapModel | None:
    """Build the model from a compiled circuit, its qubit i renumbered ``wires[i]`` (all of them by default;
    qubits without operations may be left out); None when it holds something the model does not cover (an
    operation on three or more qubits other than a barrier, classical wires read or written twice, unbound
    parameters). One-qubit barriers and delays stay in their gap: they end single-qubit runs, and delays
    are timed (``compiling.delay_key``)."""
    from .compiling import delay_key

    if wires is None:
        wires = {i: i for i in range(circuit.num_qubits)}
    qindex = {q: wires.get(i) for i, q in enumerate(circuit.qubits)}
    cindex = {c: i for i, c in enumerate(circuit.clbits)}
    n = max(wires.values(), default=-1) + 1
    current: list[list] = [[] for _ in range(n)]
    last_node_chain: list[int | None] = [None] * n
    pending_after: list[tuple[int, int] | None] = [None] * n  # (node, position) waiting for its next gap
    nodes, gaps, chain_of_gap, chain_of_node, chain_preds, after = [], [], [], [], [], []
    written: set[int] = set()

    def close_gap(w: int) -> int:
        gid = len(gaps)
        gaps.append(_gap(w, tuple(current[w])))
        current[w] = []
        chain_of_gap.append(len(chain_preds))
        chain_preds.append(() if last_node_chain[w] is None else (last_node_chain[w],))
        if pending_after[w] is not None:
            node, pos = pending_after[w]
            after[node][pos] = gid
            pending_after[w] = None
        return gid

    for inst in circuit.data:
        name = inst.name
        qs = [qindex[q] for q in inst.qubits]
        if name in _SYNC:
            qs = [w for w in qs if w is not None]
            if not qs:
                continue
        elif None in qs:
            return None
        if inst.clbits:
            if name != "measure" or len(inst.clbits) != 1 or cindex[inst.clbits[0]] in written:
                return None
            written.add(cindex[inst.clbits[0]])
        if len(qs) == 1:
            if name == "delay":
                current[qs[0]].append((delay_key(inst.operation, dt_s), ()))
                continue
            try:
                params = tuple(float(p) for p in inst.params)
            except (TypeError, ValueError):  # an unbound parameter: the generic digest handles it
                return None
            current[qs[0]].append((name, params))
            continue
        if name not in _SYNC and len(qs) != 2:
            return None
        before = tuple(close_gap(w) for w in qs)
        idx = len(nodes)
        nodes.append((name, tuple(qs), before))
        after.append([None] * len(qs))
        chain = len(chain_preds)
        chain_of_node.append(chain)
        chain_preds.append(tuple(chain_of_gap[g] for g in before))
        for pos, w in enumerate(qs):
            last_node_chain[w] = chain
            pending_after[w] = (idx, pos)
    for w in range(n):
        close_gap(w)
    keys: dict = {}
    chain_ops: list = [None] * len(chain_preds)
    for g, gap in enumerate(gaps):
        chain_ops[chain_of_gap[g]] = np.asarray([keys.setdefault((op[0], (gap.wire,)), len(keys)) for op in gap.ops
                                                 if _timed(op[0])], dtype=np.int64)
    for j, (name, qs, _) in enumerate(nodes):
        chain_ops[chain_of_node[j]] = (np.empty(0, dtype=np.int64) if name in _SYNC
                                       else np.asarray([keys.setdefault((name, qs), len(keys))], dtype=np.int64))
    return GapModel(n=n, nodes=tuple(nodes), gaps=tuple(gaps), chain_of_gap=tuple(chain_of_gap),
                    chain_of_node=tuple(chain_of_node), chain_preds=tuple(chain_preds),
                    gaps_after_node=tuple(tuple(a) for a in after), keys=keys, chain_ops=tuple(chain_ops))


_FIXUPS: dict = {}
_LOCK = threading.Lock()


def _fixup(name: str, basis: tuple) -> tuple:
    """What qiskit's GateDirection puts around a reversed ``name`` gate, written in ``basis`` by its
    BasisTranslator: ((before on qubit 0, on qubit 1), (after on qubit 0, on qubit 1)), each a tuple of
    (name, params)."""
    key = (name, basis)
    with _LOCK:
        if key in _FIXUPS:
            return _FIXUPS[key]
    from qiskit import QuantumCircuit
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.transpiler import CouplingMap
    from qiskit.transpiler.passes import BasisTranslator, GateDirection

    qc = QuantumCircuit(2)
    qc.append(get_standard_gate_name_mapping()[name], [0, 1])
    flipped = GateDirection(CouplingMap([(1, 0)]))(qc)
    out = BasisTranslator(SessionEquivalenceLibrary, list(basis))(flipped)
    before, after, seen = ([], []), ([], []), False
    for inst in out.data:
        if len(inst.qubits) == 2:
            seen = True
            continue
        (after if seen else before)[out.find_bit(inst.qubits[0]).index].append(
            (inst.name, tuple(float(p) for p in inst.params)))
    result = tuple(tuple(tuple(ops) for ops in side) for side in (before, after))
    with _LOCK:
        _FIXUPS[key] = result
    return result


_MATRICES: dict = {}
_SYNTH: dict = {}


def _matrix(op: tuple) -> np.ndarray:
    m = _MATRICES.get(op)
    if m is None:
        from qiskit.circuit.library import get_standard_gate_name_mapping

        m = _MATRICES[op] = np.asarray(get_standard_gate_name_mapping()[op[0]].base_class(*op[1]).to_matrix(),
                                       dtype=complex)
        if len(_MATRICES) > 100_000:
            _MATRICES.clear()
    return m


def _resynthesize(runs: list[tuple], basis: tuple) -> list[tuple]:
    """The gate names Optimize1qGatesDecomposition(basis) leaves of each run: the run's unitary re-synthesised
    with qiskit's own Euler decomposer (its native ``unitary_to_gate_sequence``, over the same decomposers
    the pass picks for this basis), kept only if strictly shorter than the run (the pass's rule without a
    target: gate count is its error proxy). Cached per run content."""
    from qiskit._accelerate import euler_one_qubit_decomposer
    from qiskit.transpiler.passes import Optimize1qGatesDecomposition

    decomposers = _SYNTH.get(("decomposers", basis))
    if decomposers is None:
        decomposers = _SYNTH[("decomposers", basis)] = Optimize1qGatesDecomposition(basis=list(basis))._global_decomposers
    out = []
    for run in runs:
        key = (basis, run)
        names = _SYNTH.get(key)
        if names is None:
            u = np.eye(2, dtype=complex)
            for op in run:
                u = _matrix(op) @ u
            seq = euler_one_qubit_decomposer.unitary_to_gate_sequence(u, decomposers, 0, None)
            new = tuple(g.name.lower() for g, _ in seq) if seq is not None else None
            names = new if new is not None and len(new) < len(run) else tuple(op[0] for op in run)
            if len(_SYNTH) > 100_000:
                _SYNTH.clear()
            _SYNTH[key] = names
        out.append(names)
    return out


def repair(model: GapModel, flipped: frozenset, basis: tuple, optimize_1q: bool = True) -> dict:
    """Scoring data of the circuit with the two-qubit gates of nodes ``flipped`` reversed and repaired as
    qiskit would, in local qubit labels: the ``CompiledCircuit`` fields keys, key_counts, op_key, chain_of and
    chain_preds."""
    basis = tuple(basis)
    prefix: dict[int, tuple] = {}
    suffix: dict[int, tuple] = {}
    for j in sorted(flipped):  # each gap sits between two nodes: at most one fix-up on each of its ends
        name, qs, before = model.nodes[j]
        (b0, b1), (a0, a1) = _fixup(name, basis)
        suffix[before[0]], suffix[before[1]] = b0, b1
        after = model.gaps_after_node[j]
        prefix[after[0]], prefix[after[1]] = a0, a1
    touched = sorted(set(prefix) | set(suffix))
    runs, plan = [], []
    for g in touched:
        gap = model.gaps[g]
        pre, suf = prefix.get(g, ()), suffix.get(g, ())
        if gap.one_run:  # the gap is one run of gates: both fix-ups join it
            plan.append((g, len(runs), None))
            runs.append(pre + gap.lead + suf)
            continue
        first = last = None
        if pre:
            first = len(runs)
            runs.append(pre + gap.lead)
        if suf:
            last = len(runs)
            runs.append(gap.trail + suf)
        plan.append((g, first, last))
    new_runs = _resynthesize(runs, basis) if optimize_1q else [tuple(op[0] for op in run) for run in runs]
    keys = dict(model.keys)
    chain_ops = list(model.chain_ops)
    for g, first, last in plan:
        gap = model.gaps[g]
        if gap.one_run:
            names = new_runs[first]
        else:
            names = ((new_runs[first] if first is not None else tuple(op[0] for op in gap.lead)) + gap.mid
                     + (new_runs[last] if last is not None else tuple(op[0] for op in gap.trail)))
        w = (gap.wire,)
        chain_ops[model.chain_of_gap[g]] = np.asarray([keys.setdefault((name, w), len(keys)) for name in names
                                                       if _timed(name)], dtype=np.int64)
    for j in flipped:
        name, qs, _ = model.nodes[j]
        chain_ops[model.chain_of_node[j]] = np.asarray([keys.setdefault((name, (qs[1], qs[0])), len(keys))],
                                                       dtype=np.int64)
    lengths = np.fromiter(map(len, chain_ops), dtype=np.int64, count=len(chain_ops))
    op_key = np.concatenate(chain_ops) if chain_ops else np.empty(0, dtype=np.int64)
    counts = np.bincount(op_key, minlength=len(keys))
    key_list = list(keys)
    if (counts == 0).any():  # keys the repair removed (a gate re-synthesised away): renumber the rest
        live = np.flatnonzero(counts)
        remap = np.full(len(keys), -1, dtype=np.int64)
        remap[live] = np.arange(len(live))
        op_key = remap[op_key]
        key_list = [key_list[i] for i in live]
        counts = counts[live]
    return {
        "keys": tuple(key_list),
        "key_counts": tuple(counts.tolist()),
        "op_key": op_key,
        "chain_of": np.repeat(np.arange(len(chain_ops), dtype=np.int64), lengths),
        "chain_preds": model.chain_preds,
    }
