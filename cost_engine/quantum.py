"""The paper's analytical quantum cost model (COST_MODEL.md section A) plus wall-clock time (section B)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration import Calibration
from .errors import CalibrationDataError, CircuitTooLargeError, ConfigError
from .execution import DEFAULT_PROFILE, ExecutionProfile

# 2: calibration-aware placement by default, fixed repetition rates, routing overhead in native gates,
#    IBM's operational flags honoured (see docs/COST_MODEL.md, "Model versions")
MODEL_VERSION = "hanas-quantum-2"
LAYOUTS = ("calibrated", "structure", "qiskit")
_SKIP = {"barrier", "delay"}


@dataclass(frozen=True)
class CostOptions:
    shots: int = 1024
    optimization_level: int = 1
    seed: int = 7
    t2_variant: str = "min"
    # "calibrated" (default): routed once per device structure, placed per snapshot on the qubits with the
    # best log ESP (cost_engine.placement), as transpile(qc, backend)'s noise-aware VF2 passes do;
    # "structure": routed and placed on the device's structure only (errors ignored: the pre-2 default);
    # "qiskit": qiskit's preset pass manager on the snapshot's calibrated target, compiled per snapshot.
    layout: str = "calibrated"
    exclude_broken: bool = True
    rep_delay_s: float | None = None
    include_reset: bool = True

    def validate(self) -> "CostOptions":
        def integer(name, lo, hi):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}", field=name)
        integer("shots", 1, 10_000_000)
        integer("optimization_level", 0, 3)
        integer("seed", 0, 2**31 - 1)
        if self.t2_variant not in ("min", "mean"):
            raise ConfigError("t2_variant must be 'min' or 'mean'", field="t2_variant")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}", field="layout")
        for name in ("exclude_broken", "include_reset"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false", field=name)
        if self.rep_delay_s is not None and (isinstance(self.rep_delay_s, bool)
                                             or not isinstance(self.rep_delay_s, (int, float))
                                             or not 0 <= self.rep_delay_s < 1):
            raise ConfigError("rep_delay_s must be null or seconds in [0, 1)", field="rep_delay_s")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def options_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def compile_key(self) -> tuple:
        """What the structure-level compile depends on ("calibrated" and "structure" share it)."""
        return (self.optimization_level, self.seed, self.layout == "qiskit", self.exclude_broken)


def circuit_hash(qc) -> str:
    """Structural hash of a circuit: every instruction's name, qubit/clbit indices and parameters."""
    qidx = {q: i for i, q in enumerate(qc.qubits)}
    cidx = {c: i for i, c in enumerate(qc.clbits)}
    parts = [f"{qc.num_qubits}:{qc.num_clbits}"]
    for inst in qc.data:
        parts.append(f"{inst.name}{inst.params!r}{[qidx[q] for q in inst.qubits]}{[cidx[c] for c in inst.clbits]}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class CompiledCircuit:
    """A routed circuit reduced to what scoring needs: the distinct (name, physical qubits) keys of its timed
    operations, how often each occurs, and the dependency chains of the critical path."""

    # the compiled qiskit QuantumCircuit, or (circuit or a function building it, permutation[, width]) to
    # relabel on first use
    source: Any
    keys: tuple  # the distinct (name, qubits) of the timed operations (barriers and delays left out)
    key_counts: tuple  # how many ops each key has
    op_key: Any  # numpy int array: index into keys for each op, in circuit order
    chain_of: Any  # numpy int array: the chain each op belongs to (see _chains)
    chain_preds: tuple  # per chain: the chains its first op waits for
    n_2q_logical: int  # two-qubit operations before routing, in the device's native two-qubit gates
    n_swaps: int
    depth: int
    depth_2q: int
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

    @property
    def circuit(self):
        """The compiled qiskit circuit on the device's physical qubits (built on first use after placement)."""
        if not isinstance(self.source, tuple):
            return self.source
        if "circuit" not in self.extras:
            circuit, *rest = self.source
            self.extras["circuit"] = _relabel_circuit(circuit() if callable(circuit) else circuit, *rest)
        return self.extras["circuit"]


def _relabel_circuit(circuit, perm: dict, width: int | None = None):
    """``circuit`` with its qubit q moved to perm[q] on ``width`` wires (default: its own width); the other
    wires fill the free slots in order."""
    from qiskit import QuantumCircuit

    n = width or circuit.num_qubits
    taken = set(perm.values())
    rest = iter(q for q in range(n) if q not in taken)
    full = [perm[q] if q in perm else next(rest, None) for q in range(circuit.num_qubits)]  # None: an idle wire
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
        """Stores {name: count} of the two-qubit operations before routing (``hanas_2q_names``)."""

        def run(self, dag):
            names = {}
            for name, count in dag.count_ops(recurse=False).items():
                arity = _arity(name)
                if arity == 2 and name not in _SKIP:
                    names[name] = count
                elif arity is None:
                    n = sum(1 for node in dag.op_nodes() if node.name == name and len(node.qargs) == 2)
                    if n:
                        names[name] = n
            self.property_set["hanas_2q_names"] = names

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
    native = _native_2q_count(props.get("hanas_2q_names") or {}, calibration)
    return _digest(compiled, n_2q_logical=native,
                   n_swaps=max(int(props.get("hanas_swaps_routed", 0)) - int(props.get("hanas_swaps_logical", 0)), 0),
                   num_qubits_logical=qc.num_qubits, layout=options.layout)


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
    flipped = placement.reversed_pairs(inter, row, calibration)
    if not flipped:
        keys = tuple((name, tuple([perm[q] for q in qubits])) for name, qubits in base.keys)
        return dataclasses.replace(base, source=(base.circuit, perm), keys=keys,
                                   physical_qubits=tuple(sorted(perm.values())), layout="calibrated", extras={})
    # Some directed two-qubit gates land reversed: qiskit's direction repair. It is done on the circuit cut
    # down to its used qubits (numbered 0..n-1 as in ``inter.used``), once per pattern of reversed gates: the
    # repair depends on which gates are reversed, not on where they sit.
    repaired = base.extras.get(("repaired", flipped))
    if repaired is None:
        repaired = base.extras[("repaired", flipped)] = _repair(base, inter, flipped, calibration)
    local = row.tolist()
    keys = tuple((name, tuple([local[q] for q in qubits])) for name, qubits in repaired.keys)
    return dataclasses.replace(repaired, keys=keys, physical_qubits=tuple(sorted({q for _, qs in keys for q in qs})),
                               source=(repaired.extras["circuit_factory"], dict(enumerate(local)),
                                       calibration.num_qubits), extras={})


def _compact(base: CompiledCircuit, inter) -> Any:
    """The structure-compiled circuit cut down to its used qubits, numbered 0..n-1 as in ``inter.used``."""
    compact = base.extras.get("compact")
    if compact is None:
        compact = base.extras["compact"] = _relabel_circuit(
            base.circuit, {q: i for i, q in enumerate(inter.used)}, width=len(inter.used))
    return compact


def _repair(base: CompiledCircuit, inter, flipped: tuple, calibration: Calibration) -> CompiledCircuit:
    """The structure-compiled circuit (in the local labels of ``inter.used``) with the two-qubit gates of
    ``flipped`` reversed and repaired as qiskit's translation stage would (cost_engine.direction_repair);
    the repaired qiskit circuit itself is only built when asked for (``CompiledCircuit.circuit``)."""
    from . import direction_repair, placement

    rev = {(name, a, b) for name, a, b in flipped}
    directions = [(b, a) if (name, a, b) in rev else (a, b) for name, a, b, _ in inter.two_q]
    compact = _compact(base, inter)

    def circuit_factory():
        return placement.repair_directions(compact, directions, calibration.basis_gates)

    model = base.extras.get("gap_model", False)
    if model is False:
        model = base.extras["gap_model"] = direction_repair.gap_model(compact)
    if model is None:  # not covered by the fast model: qiskit's passes on the whole (compact) circuit
        out = _digest(circuit_factory(), n_2q_logical=base.n_2q_logical, n_swaps=base.n_swaps,
                      num_qubits_logical=base.num_qubits_logical, layout="calibrated")
        out.extras["circuit_factory"] = circuit_factory
        return out
    nodes = frozenset(j for j, (name, qs, _) in enumerate(model.nodes) if (name, qs[0], qs[1]) in rev)
    parts = direction_repair.repair(model, nodes, calibration.basis_gates)
    weights_1 = np.bincount(parts["chain_of"], minlength=len(parts["chain_preds"])).tolist()
    two_qubit = np.asarray([len(k[1]) == 2 for k in parts["keys"]], dtype=np.float64)
    weights_2 = np.bincount(parts["chain_of"], weights=two_qubit[parts["op_key"]] if len(parts["op_key"]) else None,
                            minlength=len(parts["chain_preds"])).tolist()
    out = CompiledCircuit(
        source=None, **parts, n_2q_logical=base.n_2q_logical, n_swaps=base.n_swaps,
        depth=int(_longest_path(parts["chain_preds"], weights_1)),
        depth_2q=int(_longest_path(parts["chain_preds"], weights_2)),
        physical_qubits=tuple(sorted({q for _, qs in parts["keys"] for q in qs})),
        num_qubits_logical=base.num_qubits_logical, layout="calibrated")
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
        key = (name, two)
        if key not in _NATIVE_2Q:
            _NATIVE_2Q[key] = _translate_count(name, two, calibration.basis_gates)
        total += count * _NATIVE_2Q[key]
    return total


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


def _digest(compiled, *, n_2q_logical: int, n_swaps: int, num_qubits_logical: int, layout: str) -> CompiledCircuit:
    """Reduce a compiled qiskit circuit to a CompiledCircuit: op keys, counts and the chains of the DAG."""
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
            if name in _SKIP:  # a sync point on one wire changes nothing
                continue
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
    # depth (and two-qubit depth) = longest path counting ops (two-qubit ops): chains are strictly sequential
    two_qubit = np.asarray([len(k[1]) == 2 for k in keys], dtype=np.float64)
    depth = int(_longest_path(chain_preds, np.bincount(chain_of, minlength=len(chain_preds)).tolist()))
    depth_2q = int(_longest_path(chain_preds, np.bincount(chain_of, weights=two_qubit[op_key] if len(op_key) else None,
                                                          minlength=len(chain_preds)).tolist()))
    return CompiledCircuit(
        source=compiled, keys=keys, key_counts=tuple(np.bincount(op_key, minlength=len(keys)).tolist()),
        op_key=op_key, chain_of=chain_of, chain_preds=chain_preds, n_2q_logical=n_2q_logical, n_swaps=n_swaps,
        depth=depth, depth_2q=depth_2q, physical_qubits=tuple(sorted({q for _, qubits in keys for q in qubits})),
        num_qubits_logical=num_qubits_logical, layout=layout)


@dataclass(frozen=True)
class QuantumCostReport:
    backend: str
    snapshot_calibrated_at: str
    num_qubits: int
    n_1q: int
    n_2q: int
    n_meas: int
    n_reset: int
    n_swaps: int
    n_2q_logical: int
    routing_overhead_2q: int
    depth: int
    depth_2q: int
    physical_qubits: list
    t_gate_serial_s: float
    t_sched_s: float
    ebar_1q: float | None
    ebar_2q: float | None
    ebar_ro: float | None
    log_p_keep: float | None
    log_esp: float | None
    t2_eff_s: float
    p_decoh: float
    log_t_eff: float | None
    t_eff_s: float | None
    t_eff_overflow: bool
    zero_survival: bool
    p_success: float
    rep_delay_s: float
    t_reset_s: float
    t_shot_s: float
    shots: int
    shots_total: float | None
    n_instructions: int
    wallclock_s: float
    execution_profile: dict
    model_version: str
    options: dict
    compile_cached: bool
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _log1m(e: float) -> float:
    """log(1 - e); -inf for e >= 1 (a broken gate: zero survival)."""
    return -math.inf if e >= 1.0 else math.log1p(-e)


def score(compiled: CompiledCircuit, calibration: Calibration, options: CostOptions,
          profile: ExecutionProfile = DEFAULT_PROFILE, compile_cached: bool = False) -> QuantumCostReport:
    """Score a compiled circuit on one snapshot: sections A2-A5 and B. No transpiling here."""
    notes: list[str] = []
    q = calibration.qubits
    gate = calibration._gate_index

    def reset_duration(qubit):
        g = gate.get(("reset", (qubit,)))
        return None if g is None else g.duration_s

    # per distinct (gate, qubits): duration, error, bucket (0 = 1q, 1 = 2q, 2 = readout, 3 = reset: no error term);
    # a few dozen entries, so plain Python beats numpy's per-call overhead here
    dur_k = []
    n_b, e_sum_b = [0, 0, 0, 0], [0.0, 0.0, 0.0, 0.0]
    log_esp = 0.0
    for (name, qubits), count in zip(compiled.keys, compiled.key_counts):
        if name == "measure":
            p = q[qubits[0]]
            dur, err, bucket = p.readout_length_s, p.readout_error, 2
        elif name == "reset":
            dur, err, bucket = reset_duration(qubits[0]), 0.0, 3
        else:
            g = gate.get((name, qubits))
            if g is None:
                raise CalibrationDataError(f"{calibration.backend_name} has no calibration for {name} on "
                                           f"qubits {list(qubits)}", field="calibration")
            dur, err = g.duration_s, g.error
            if err is None and name == "rz":
                err = 0.0
            bucket = 1 if len(qubits) == 2 else 0
        if dur is None or err is None:
            what = "duration" if dur is None else "error"
            raise CalibrationDataError(f"{calibration.backend_name}: {name} on qubits {list(qubits)} has no "
                                       f"calibrated {what}", field="calibration")
        dur_k.append(dur)
        n_b[bucket] += count
        e_sum_b[bucket] += count * err
        if bucket != 3:
            log_esp += count * _log1m(err)  # -inf once a used gate is broken (error >= 1)
    durations = np.asarray(dur_k)[compiled.op_key]
    t_gate = math.fsum([d * c for d, c in zip(dur_k, compiled.key_counts)])
    if t_gate <= 0:
        raise ConfigError("the compiled circuit has no timed operations", field="circuit")
    sums = {"1q": (n_b[0], e_sum_b[0]), "2q": (n_b[1], e_sum_b[1]), "ro": (n_b[2], e_sum_b[2])}
    n_reset = n_b[3]
    # Critical path: each op starts when the ops it waits for (previous ops on its qubit and clbit wires,
    # barriers synchronising theirs) have ended: the quantity qiskit's QuantumCircuit.estimate_duration
    # computes on the circuit's DAG (checked against it in the tests).
    t_sched = _longest_path(compiled.chain_preds, np.bincount(compiled.chain_of, weights=durations,
                                                              minlength=len(compiled.chain_preds)).tolist())

    used = compiled.physical_qubits
    t2s = [q[i].t2_s for i in used]
    if any(t is None or t <= 0 for t in t2s):
        bad = [i for i, t in zip(used, t2s) if t is None or t <= 0]
        raise CalibrationDataError(f"{calibration.backend_name}: T2 missing on used qubits {bad}", field="calibration")
    t2_eff = min(t2s) if options.t2_variant == "min" else math.fsum(t2s) / len(t2s)

    ebar = {b: (s[1] / s[0] if s[0] else None) for b, s in sums.items()}
    log_p_keep = math.fsum(s[0] * _log1m(ebar[b]) for b, s in sums.items() if s[0])
    zero = log_p_keep == -math.inf or log_esp == -math.inf
    p_decoh = -math.expm1(-t_gate / t2_eff)
    if zero:
        log_t_eff = t_eff = None
        overflow = False
        p_success = 0.0
        notes.append("zero survival: a gate with error >= 1 is used (broken gate); the circuit cannot succeed")
    else:
        log_t_eff = math.log(t_gate) - log_p_keep + t_gate / t2_eff
        overflow = log_t_eff > 709.0
        t_eff = None if overflow else math.exp(log_t_eff)
        p_success = math.exp(log_p_keep - t_sched / t2_eff)
    t_reset = 0.0
    if options.include_reset:
        known = [d for d in map(reset_duration, used) if d is not None]
        if known:
            t_reset = max(known)
        else:
            notes.append("no reset duration calibrated for the used qubits: T_shot has no reset term")
    if calibration.fixed_rep_time_s is not None:
        # fixed repetition rate: shots start every rep_time, whatever the circuit's length (if it fits)
        if options.rep_delay_s is not None:
            raise ConfigError(f"{calibration.backend_name} runs at a fixed repetition rate "
                              f"({calibration.fixed_rep_time_s * 1e6:g} us per shot): rep_delay_s does not apply",
                              field="rep_delay_s")
        t_shot = max(calibration.fixed_rep_time_s, t_sched + t_reset)
        rep_delay = t_shot - t_sched - t_reset
        notes.append(f"fixed repetition rate: T_shot = max(rep_time {calibration.fixed_rep_time_s * 1e6:g} us, "
                     f"circuit + reset)")
    else:
        rep_delay = options.rep_delay_s if options.rep_delay_s is not None else calibration.rep_delay_s
        if options.rep_delay_s is not None and calibration.rep_delay_range_s is not None:
            lo, hi = calibration.rep_delay_range_s
            if not lo <= options.rep_delay_s <= hi:
                raise ConfigError(f"rep_delay_s {options.rep_delay_s} is outside {calibration.backend_name}'s "
                                  f"range [{lo}, {hi}] s", field="rep_delay_s")
        if rep_delay is None:
            rep_delay = 250e-6
            notes.append("the snapshot gives no default rep_delay: used IBM's common default of 250 us")
        t_shot = t_sched + rep_delay + t_reset
    if p_success > 0:
        log_total = math.log(options.shots) - math.log(p_success)
        shots_total = math.exp(log_total) if log_total < 709 else None
    else:
        shots_total = None
    n_instr = compiled.n_ops
    notes.extend(calibration_flags(calibration))
    return QuantumCostReport(
        backend=calibration.backend_name, snapshot_calibrated_at=calibration.calibrated_at.isoformat(),
        num_qubits=compiled.num_qubits_logical, n_1q=sums["1q"][0], n_2q=sums["2q"][0], n_meas=sums["ro"][0],
        n_reset=n_reset, n_swaps=compiled.n_swaps, n_2q_logical=compiled.n_2q_logical,
        routing_overhead_2q=max(sums["2q"][0] - compiled.n_2q_logical, 0), depth=compiled.depth, depth_2q=compiled.depth_2q,
        physical_qubits=list(used), t_gate_serial_s=t_gate, t_sched_s=t_sched,
        ebar_1q=ebar["1q"], ebar_2q=ebar["2q"], ebar_ro=ebar["ro"],
        log_p_keep=None if zero else log_p_keep, log_esp=None if zero else log_esp,
        t2_eff_s=t2_eff, p_decoh=p_decoh, log_t_eff=log_t_eff, t_eff_s=t_eff, t_eff_overflow=overflow,
        zero_survival=zero, p_success=p_success, rep_delay_s=rep_delay, t_reset_s=t_reset, t_shot_s=t_shot,
        shots=options.shots, shots_total=shots_total, n_instructions=n_instr,
        wallclock_s=profile.predict(t_shot_s=t_shot, shots=options.shots, n_instructions=n_instr),
        execution_profile=profile.describe(), model_version=MODEL_VERSION, options=options.to_dict(),
        compile_cached=compile_cached, notes=notes + [n for n in calibration.notes if "broken" in n][:2])


def calibration_flags(calibration: Calibration) -> list[str]:
    """The snapshot's plausibility flags (cost_engine.plausibility), computed once per snapshot object."""
    flags = calibration.__dict__.get("_plausibility")
    if flags is None:
        from .plausibility import plausibility_flags

        flags = calibration.__dict__["_plausibility"] = tuple(plausibility_flags(calibration))
    return [f"snapshot flagged: {f}" for f in flags]


def estimate_quantum_cost(circuit, calibration: Calibration, options: CostOptions | None = None,
                          cache: CompileCache | None = None, profile: ExecutionProfile | None = None
                          ) -> QuantumCostReport:
    """Compile ``circuit`` (a QuantumCircuit or OpenQASM 2/3 text) for ``calibration``'s device and score it."""
    options = (options or CostOptions()).validate()
    compiled, cached = compile_circuit(circuit, calibration, options, cache)
    return score(compiled, calibration, options, profile or DEFAULT_PROFILE, compile_cached=cached)
