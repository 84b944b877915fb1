"""Compilation for the cost model (COST_MODEL.md A1): qiskit's preset pass manager on the device, the
calibration-aware placement of model version 2 (cost_engine.placement, cost_engine.direction_repair), the
compile cache, and the reduction of a compiled circuit to what scoring needs (CompiledCircuit)."""
from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration import Calibration
from .errors import CircuitTooLargeError, ConfigError
from .options import CostOptions

_SKIP = {"barrier", "delay"}


def delay_key(operation, dt_s: float | None) -> str:
    """A delay as a timed operation: ``delay:<seconds>`` (its duration is in the name, it has no error)."""
    unit = getattr(operation, "unit", "dt")
    value = float(operation.params[0]) if operation.params else 0.0
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}.get(unit)
    if scale is None:
        if unit != "dt" or not dt_s:
            raise ConfigError(f"a delay in {unit!r} cannot be timed on this device (dt unknown)", field="circuit")
        scale = dt_s
    return f"delay:{value * scale!r}"


def circuit_hash(qc) -> str:
    """Structural hash of a circuit: every instruction's name, qubit/clbit indices and parameters; a delay's
    unit; for an operation that is not one of qiskit's standard gates, its class, and for a user-defined gate
    its definition (hashed the same way), so two custom gates of one name but different bodies differ."""
    _arity("x")  # fills the memoised standard gate mapping
    standard = _STANDARD["map"]
    qidx = {q: i for i, q in enumerate(qc.qubits)}
    cidx = {c: i for i, c in enumerate(qc.clbits)}
    parts = [f"{qc.num_qubits}:{qc.num_clbits}"]
    for inst in qc.data:
        part = f"{inst.name}{inst.params!r}{[qidx[q] for q in inst.qubits]}{[cidx[c] for c in inst.clbits]}"
        if inst.name == "delay":
            part += f"[{inst.operation.unit}]"
        elif inst.name not in standard and inst.name not in ("measure", "reset", "barrier"):
            op = inst.operation
            if type(op).__name__ in ("Gate", "Instruction"):  # user-defined (to_gate()): the body is the gate
                definition = getattr(op, "definition", None)
                part += "{" + (circuit_hash(definition) if definition is not None else "opaque") + "}"
            else:  # a library class (StatePreparation ...): its class and parameters fix its definition
                part += "{" + f"{type(op).__module__}.{type(op).__qualname__}" + "}"
        parts.append(part)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class CompiledCircuit:
    """A routed circuit reduced to what scoring needs: the distinct (name, physical qubits) keys of its timed
    operations, how often each occurs, and the dependency chains of the critical path."""

    # the compiled qiskit QuantumCircuit, or (circuit or a function building it, permutation) to relabel on
    # first use
    source: Any
    keys: tuple  # the distinct (name, qubits) of the timed operations (barriers and delays left out)
    key_counts: tuple  # how many ops each key has
    op_key: Any  # numpy int array: index into keys for each op, in circuit order
    chain_of: Any  # numpy int array: the chain each op belongs to (see _chains)
    chain_preds: tuple  # per chain: the chains its first op waits for
    n_2q_logical: int  # two-qubit operations before routing, in the device's native two-qubit gates
    n_swaps: int
    physical_qubits: tuple[int, ...]
    num_qubits_logical: int
    layout: str = "structure"  # how the physical qubits were chosen (CostOptions.layout)
    extras: dict = field(default_factory=dict, compare=False, repr=False)  # memoised derived data

    @property
    def ops(self) -> tuple:
        """((name, qubits), ...) in circuit order."""
        keys = self.keys
        return tuple(keys[i] for i in self.op_key.tolist())

    @property
    def n_ops(self) -> int:
        return len(self.op_key)

    def _depths(self) -> tuple[int, int]:
        """(depth, two-qubit depth): the longest path counting operations (delays left out), and counting
        two-qubit operations; computed when first asked (chains are strictly sequential)."""
        hit = self.extras.get("depths")
        if hit is None:
            n_chains = len(self.chain_preds)
            gate = np.asarray([not k[0].startswith("delay") for k in self.keys], dtype=np.float64)
            two_qubit = np.asarray([len(k[1]) == 2 for k in self.keys], dtype=np.float64)
            ops = len(self.op_key) > 0
            hit = self.extras["depths"] = tuple(
                int(_longest_path(self.chain_preds, np.bincount(self.chain_of, weights=mask[self.op_key] if ops
                                                                else None, minlength=n_chains).tolist()))
                for mask in (gate, two_qubit))
        return hit

    @property
    def depth(self) -> int:
        return self._depths()[0]

    @property
    def depth_2q(self) -> int:
        return self._depths()[1]

    @property
    def circuit(self):
        """The compiled qiskit circuit on the device's physical qubits (built on first use after placement)."""
        if not isinstance(self.source, tuple):
            return self.source
        if "circuit" not in self.extras:
            circuit, perm = self.source
            self.extras["circuit"] = _relabel_circuit(circuit() if callable(circuit) else circuit, perm)
        return self.extras["circuit"]


def _relabel_circuit(circuit, perm: dict):
    """``circuit`` with its qubit q moved to perm[q]; the other wires fill the free slots in order."""
    from qiskit import QuantumCircuit

    n = circuit.num_qubits
    taken = set(perm.values())
    rest = iter(q for q in range(n) if q not in taken)
    full = [perm[q] if q in perm else next(rest) for q in range(n)]
    out = QuantumCircuit(n, circuit.num_clbits, name=circuit.name, global_phase=circuit.global_phase)
    qubits, clbits = out.qubits, out.clbits
    index = {q: i for i, q in enumerate(circuit.qubits)}
    cindex = {c: i for i, c in enumerate(circuit.clbits)}
    for inst in circuit.data:
        out._append(inst.replace(qubits=tuple(qubits[full[index[q]]] for q in inst.qubits),
                                 clbits=tuple(clbits[cindex[c]] for c in inst.clbits)))
    return out


class CompileCache:
    """Thread-safe LRU of compiled circuits keyed by (circuit hash, device structure, compile options)."""

    def __init__(self, maxsize: int = 512):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


_TARGETS: OrderedDict = OrderedDict()
_TARGETS_LOCK = threading.Lock()


def target_for(calibration: Calibration, exclude_broken: bool = True, with_errors: bool = True):
    """``calibration.to_target(...)`` memoised per (content hash, flags): building a Target takes ms."""
    key = (calibration.content_hash, exclude_broken, with_errors)
    with _TARGETS_LOCK:
        if key in _TARGETS:
            _TARGETS.move_to_end(key)
            return _TARGETS[key]
    target = calibration.to_target(exclude_broken=exclude_broken, with_errors=with_errors)
    with _TARGETS_LOCK:
        _TARGETS[key] = target
        while len(_TARGETS) > 32:
            _TARGETS.popitem(last=False)
    return target


def _arity(name: str) -> int | None:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    if "map" not in _STANDARD:
        _STANDARD["map"] = get_standard_gate_name_mapping()
    op = _STANDARD["map"].get(name)
    return None if op is None else op.num_qubits


_STANDARD: dict = {}


def _count_pass(prop: str, wanted):
    """An analysis pass storing how many operations ``wanted(name, num_qubits)`` accepts. Counts by name
    (``DAGCircuit.count_ops`` runs in Rust); only non-standard operations are inspected one by one."""
    from qiskit.transpiler.basepasses import AnalysisPass

    class _Count(AnalysisPass):
        def run(self, dag):
            total = 0
            odd = set()
            for name, count in dag.count_ops(recurse=False).items():
                arity = _arity(name)
                if arity is None:
                    odd.add(name)
                elif wanted(name, arity):
                    total += count
            if odd:
                total += sum(1 for node in dag.op_nodes() if node.name in odd
                             and wanted(node.name, len(node.qargs)))
            self.property_set[prop] = total

    _Count.__name__ = f"Count_{prop}"
    return _Count()


def _two_qubit_names_pass():
    from qiskit.transpiler.basepasses import AnalysisPass

    class TwoQubitNames(AnalysisPass):
        """Stores {name: count} of the standard two-qubit operations before routing (``hanas_2q_names``) and
        the definitions of the other multi-qubit operations (``hanas_2q_custom``), to count in native gates."""

        def run(self, dag):
            names, custom = {}, []
            for name, count in dag.count_ops(recurse=False).items():
                if name in _SKIP:
                    continue
                arity = _arity(name)
                if arity == 2:
                    names[name] = count
                elif arity is None:
                    custom.extend(node.op for node in dag.op_nodes() if node.name == name and len(node.qargs) >= 2)
            self.property_set["hanas_2q_names"] = names
            self.property_set["hanas_2q_custom"] = custom

    return TwoQubitNames()


_PM_CACHE = threading.local()


def _pass_manager(target, options: CostOptions):
    """A preset pass manager with our counting hooks, built once per (target, options) per thread (building
    one costs several ms; running it again resets its state)."""
    from qiskit.transpiler import PassManager, generate_preset_pass_manager

    cache = getattr(_PM_CACHE, "pms", None)
    if cache is None:
        cache = _PM_CACHE.pms = OrderedDict()
    key = (id(target), options.optimization_level, options.seed)
    hit = cache.get(key)
    if hit is not None and hit[0] is target:
        return hit[1]
    pm = generate_preset_pass_manager(optimization_level=options.optimization_level, target=target,
                                      seed_transpiler=options.seed)
    pm.pre_layout = PassManager([_two_qubit_names_pass(), _count_pass("hanas_swaps_logical", lambda name, k: name == "swap")])
    pm.pre_translation = PassManager([_count_pass("hanas_swaps_routed", lambda name, k: name == "swap")])
    cache[key] = (target, pm)
    while len(cache) > 16:
        cache.popitem(last=False)
    return pm


def _chains(preds) -> tuple[np.ndarray, tuple]:
    """Collapse runs of operations that simply follow one another (an op whose only predecessor has it as
    its only successor) into chains, so the critical path is a loop over chains (about one per two-qubit
    gate) instead of over every operation. A chain's duration is the sum of its ops' durations."""
    succ = [0] * len(preds)
    for before in preds:
        for j in before:
            succ[j] += 1
    chain_of = [0] * len(preds)
    chain_preds = []
    for i, before in enumerate(preds):
        if len(before) == 1 and succ[before[0]] == 1:
            chain_of[i] = chain_of[before[0]]
        else:
            chain_of[i] = len(chain_preds)
            chain_preds.append(tuple({chain_of[j] for j in before}))
    return np.asarray(chain_of, dtype=np.int64), tuple(chain_preds)


def _longest_path(chain_preds: tuple, weights: list) -> float:
    """Longest weighted path through the chain DAG (chains are in topological order)."""
    end = [0.0] * len(weights)
    for c, (before, w) in enumerate(zip(chain_preds, weights)):
        m = 0.0
        for j in before:
            if end[j] > m:
                m = end[j]
        end[c] = m + w
    return max(end, default=0.0)


def _check_width(n: int, calibration: Calibration, options: CostOptions) -> None:
    usable = calibration.num_qubits - (len(calibration.non_operational_qubits) if options.exclude_broken else 0)
    if n > usable:
        raise CircuitTooLargeError(
            f"circuit has {n} qubits but {calibration.backend_name} has {usable} usable "
            f"({calibration.num_qubits} in all)", field="num_qubits")


def compile_circuit(qc, calibration: Calibration, options: CostOptions, cache: CompileCache | None = None,
                    circuit_key: str | None = None) -> tuple[CompiledCircuit, bool]:
    """Compile ``qc`` (a QuantumCircuit or OpenQASM 2/3 text, parsed only on a cache miss) for
    ``calibration``'s device. By ``options.layout``: "structure" runs qiskit's preset pass manager on the
    error-free target (cached across snapshots of one device); "calibrated" then places that routed circuit
    on this snapshot's best qubits (cost_engine.placement, cached per snapshot); "qiskit" runs the preset pass
    manager on the calibrated target (cached per snapshot). Returns (compiled, the routing came from cache)."""
    from .qasm import load_qasm

    if isinstance(qc, str):
        circuit_key = circuit_key or "qasm:" + hashlib.sha256(qc.encode()).hexdigest()
    elif cache is not None and circuit_key is None:
        circuit_key = circuit_hash(qc)  # ~1-2 ms on a few hundred instructions: only for the cache
    per_snapshot = options.layout != "structure"
    key = None
    if cache is not None:
        key = (circuit_key, calibration.structure_key(options.exclude_broken), options.compile_key(),
               calibration.content_hash if per_snapshot else None)
        hit = cache.get(key)
        if hit is not None:
            _check_width(hit.num_qubits_logical, calibration, options)
            return hit, True
    if options.layout == "calibrated":
        base, cached = compile_circuit(qc, calibration, dataclasses.replace(options, layout="structure"), cache,
                                       circuit_key)
        result = _place(base, calibration, options)
    else:
        cached = False
        if isinstance(qc, str):
            qc = load_qasm(qc)
        result = _compile(qc, calibration, options)
    if cache is not None:
        cache.put(key, result)
    return result, cached


def _compile(qc, calibration: Calibration, options: CostOptions) -> CompiledCircuit:
    _check_width(qc.num_qubits, calibration, options)
    if qc.num_qubits == 0:
        raise ConfigError("the circuit has no qubits", field="circuit")
    if (options.exclude_broken and not calibration.usable_coupling_map()
            and any(inst.operation.num_qubits >= 2 and inst.name not in _SKIP for inst in qc.data)):
        raise CircuitTooLargeError(f"{calibration.backend_name} has no working two-qubit gate in this snapshot "
                                   f"({len(calibration.broken_edges)} broken couplers)", field="circuit")
    target = target_for(calibration, options.exclude_broken, with_errors=options.layout == "qiskit")
    pm = _pass_manager(target, options)
    try:
        compiled = pm.run(qc)
    except Exception as exc:  # the transpiler's own message names the problem (e.g. no route)
        raise CircuitTooLargeError(f"cannot compile for {calibration.backend_name}: {exc}", field="circuit") from exc
    props = pm.property_set
    common = {"n_2q_logical": _native_2q_count(props.get("hanas_2q_names") or {}, calibration)
              + sum(_native_2q_of_operation(op, calibration) for op in props.get("hanas_2q_custom") or ()),
              "n_swaps": max(int(props.get("hanas_swaps_routed", 0)) - int(props.get("hanas_swaps_logical", 0)), 0),
              "num_qubits_logical": qc.num_qubits, "layout": options.layout}
    from . import direction_repair

    # one pass over the compiled circuit: its gap model (two-qubit gates and the single-qubit runs between
    # them) gives the scoring data and, later, cheap direction repairs; the generic digest where it does not
    # apply (operations on three or more qubits, classical bits reused)
    model = direction_repair.gap_model(compiled, dt_s=calibration.dt_s)
    if model is None:
        out = _digest(compiled, dt_s=calibration.dt_s, **common)
    else:
        out = _from_parts(direction_repair.repair(model, frozenset(), calibration.basis_gates), source=compiled,
                          **common)
    out.extras["gap_model"] = model
    return out


def _from_parts(parts: dict, **fields) -> CompiledCircuit:
    """A CompiledCircuit from direction_repair's scoring data."""
    return CompiledCircuit(**parts, physical_qubits=tuple(sorted({q for _, qs in parts["keys"] for q in qs})),
                           **fields)


def _place(base: CompiledCircuit, calibration: Calibration, options: CostOptions) -> CompiledCircuit:
    """Move a structure-compiled circuit onto this snapshot's best qubits (cost_engine.placement)."""
    from . import placement

    inter_key = ("interaction", options.exclude_broken)
    inter = base.extras.get(inter_key)
    if inter is None:
        inter = base.extras[inter_key] = placement.interaction(base.keys, base.key_counts, calibration,
                                                               options.exclude_broken)
    row, _ = placement.best_embedding(inter, calibration, options.exclude_broken)
    perm = dict(zip(inter.used, row.tolist()))
    flipped = placement.reversed_pairs(inter, row, calibration, options.exclude_broken)
    if not flipped:
        keys = tuple((name, tuple([perm[q] for q in qubits])) for name, qubits in base.keys)
        return dataclasses.replace(base, source=(base.circuit, perm), keys=keys,
                                   physical_qubits=tuple(sorted(perm.values())), layout="calibrated",
                                   extras={"depths": base.extras["depths"]} if "depths" in base.extras else {})
    # Some directed two-qubit gates land reversed: qiskit's direction repair, once per pattern of reversed
    # gates (it depends on which gates are reversed, not on where they sit), in the structure compile's labels
    repaired = base.extras.get(("repaired", flipped))
    if repaired is None:
        repairs = [k for k in base.extras if isinstance(k, tuple) and k and k[0] == "repaired"]
        if len(repairs) >= 64:  # bounded: the oldest pattern goes
            base.extras.pop(repairs[0], None)
        repaired = base.extras[("repaired", flipped)] = _repair(base, inter, flipped, calibration,
                                                                optimize_1q=options.optimization_level >= 1)
    keys = tuple((name, tuple([perm[q] for q in qubits])) for name, qubits in repaired.keys)
    return dataclasses.replace(repaired, keys=keys, physical_qubits=tuple(sorted({q for _, qs in keys for q in qs})),
                               source=(repaired.extras["circuit_factory"], perm), layout="calibrated",
                               extras={"depths": repaired._depths()})


def _repair(base: CompiledCircuit, inter, flipped: tuple, calibration: Calibration,
            optimize_1q: bool = True) -> CompiledCircuit:
    """The structure-compiled circuit with the two-qubit gates of ``flipped`` (local labels of ``inter.used``)
    reversed and repaired as qiskit's translation stage would (cost_engine.direction_repair), in the structure
    compile's physical labels; the repaired qiskit circuit itself is only built when asked for. With
    ``optimize_1q`` (optimisation level 1 and up) the single-qubit runs the repair touched are re-synthesised
    as level 1's Optimize1qGatesDecomposition does; level 0 leaves them as translated."""
    from . import direction_repair, placement

    used = inter.used
    rev = {(name, used[a], used[b]) for name, a, b in flipped}
    directions = [(used[b], used[a]) if (name, used[a], used[b]) in rev else (used[a], used[b])
                  for name, a, b, _ in inter.two_q]

    def circuit_factory():
        return placement.repair_directions(base.circuit, directions, calibration.basis_gates, optimize_1q)

    model = base.extras.get("gap_model")
    fields = {"n_2q_logical": base.n_2q_logical, "n_swaps": base.n_swaps,
              "num_qubits_logical": base.num_qubits_logical, "layout": "calibrated"}
    if model is None:  # not covered by the fast model: qiskit's passes on the whole circuit
        out = _digest(circuit_factory(), dt_s=calibration.dt_s, **fields)
    else:
        nodes = frozenset(j for j, (name, qs, _) in enumerate(model.nodes) if (name, qs[0], qs[1]) in rev)
        out = _from_parts(direction_repair.repair(model, nodes, calibration.basis_gates, optimize_1q), source=None,
                          **fields)
    out.extras["circuit_factory"] = circuit_factory
    return out


_NATIVE_2Q: dict = {}


def _native_2q_count(names: dict, calibration: Calibration) -> int:
    """Two-qubit operations of the circuit before routing, counted in the device's native two-qubit gate:
    each distinct gate is translated once by qiskit's BasisTranslator (cp -> 2 ECR, swap -> 3, ...)."""
    two = calibration.two_qubit_gate_names
    if not two:
        return sum(names.values())
    total = 0
    for name, count in names.items():
        key = (name, two, tuple(calibration.basis_gates))
        if key not in _NATIVE_2Q:
            _NATIVE_2Q[key] = _translate_count(name, two, calibration.basis_gates)
        total += count * _NATIVE_2Q[key]
    return total


def _native_2q_of_operation(op, calibration: Calibration, depth: int = 0) -> int:
    """Native two-qubit gates of a non-standard operation: its definition's standard two-qubit gates
    (translated as in :func:`_native_2q_count`) and, recursively, its own custom operations. An opaque one
    (no definition) counts as one."""
    definition = getattr(op, "definition", None)
    if definition is None or depth > 16:
        return 1
    total, names = 0, {}
    for inst in definition.data:
        if inst.name in _SKIP or inst.operation.num_qubits < 2:
            continue
        if _arity(inst.name) == 2:
            names[inst.name] = names.get(inst.name, 0) + 1
        else:
            total += _native_2q_of_operation(inst.operation, calibration, depth + 1)
    return total + _native_2q_count(names, calibration)


def _translate_count(name: str, two: tuple, basis) -> int:
    from qiskit import QuantumCircuit
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.transpiler.passes import BasisTranslator

    gate = get_standard_gate_name_mapping().get(name)
    if gate is None or gate.num_qubits != 2:
        return 1
    if gate.params:  # a generic angle: a special one (0, pi) may translate shorter, never longer
        gate = gate.base_class(*[0.7 + 0.1 * i for i in range(len(gate.params))])
    qc = QuantumCircuit(2)
    qc.append(gate, [0, 1])
    try:
        out = BasisTranslator(SessionEquivalenceLibrary, list(basis))(qc)
    except Exception:  # noqa: BLE001 - no translation known: count the gate itself
        return 1
    return sum(1 for inst in out.data if inst.operation.num_qubits == 2)


def _digest(compiled, *, n_2q_logical: int, n_swaps: int, num_qubits_logical: int, layout: str,
            dt_s: float | None = None) -> CompiledCircuit:
    """Reduce a compiled qiskit circuit to a CompiledCircuit: op keys, counts and the chains of the DAG.
    Barriers are zero-duration sync points; delays are timed operations (``delay_key``)."""
    ops, preds = [], []
    last: dict[int, tuple[int, ...]] = {}  # wire -> timed ops that end last on it
    clbit_index = {c: -1 - i for i, c in enumerate(compiled.clbits)}
    qubit_index = {q: i for i, q in enumerate(compiled.qubits)}
    empty: tuple[int, ...] = ()
    for inst in compiled.data:
        name = inst.name
        qargs, cargs = inst.qubits, inst.clbits
        if len(qargs) == 1 and not cargs:  # the common case, kept lean
            w = qubit_index[qargs[0]]
            if name == "barrier":  # a sync point on one wire changes nothing
                continue
            if name == "delay":
                name = delay_key(inst.operation, dt_s)
            i = len(ops)
            ops.append((name, (w,)))
            preds.append(last.get(w, empty))
            last[w] = (i,)
            continue
        qubits = tuple([qubit_index[q] for q in qargs])
        wires = qubits + tuple([clbit_index[c] for c in cargs]) if cargs else qubits
        merged = set()
        for w in wires:
            merged.update(last.get(w, empty))
        before = tuple(merged)
        if name in _SKIP:  # zero-duration sync point: everything after waits for everything before on its wires
            for w in wires:
                last[w] = before
            continue
        mine = (len(ops),)
        ops.append((name, qubits))
        preds.append(before)
        for w in wires:
            last[w] = mine
    keys = tuple(dict.fromkeys(ops))
    key_index = {k: i for i, k in enumerate(keys)}
    op_key = np.asarray([key_index[o] for o in ops], dtype=np.int64)
    chain_of, chain_preds = _chains(preds)
    return CompiledCircuit(
        source=compiled, keys=keys, key_counts=tuple(np.bincount(op_key, minlength=len(keys)).tolist()),
        op_key=op_key, chain_of=chain_of, chain_preds=chain_preds, n_2q_logical=n_2q_logical, n_swaps=n_swaps,
        physical_qubits=tuple(sorted({q for _, qubits in keys for q in qubits})),
        num_qubits_logical=num_qubits_logical, layout=layout)
