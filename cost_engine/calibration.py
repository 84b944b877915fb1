"""One normalised, immutable calibration snapshot of one backend (COST_MODEL.md, "Inputs").

Built from a qiskit ``BackendV2`` (:func:`from_backend`), from IBM's BackendProperties JSON plus the backend
configuration JSON (:func:`from_properties`, the shape of ``backend.properties().to_dict()`` and of the
``props_*.json`` / ``conf_*.json`` files inside ``qiskit_ibm_runtime.fake_provider``), or from the live IBM
service (:func:`from_ibm`). All times are seconds, frequencies Hz, errors probabilities.

Quirks are handled explicitly and recorded in ``notes``, never clipped silently:
- a missing value stays ``None`` and is noted;
- a gate error >= 1 marks a broken gate: a broken two-qubit gate is a broken edge, a qubit whose
  single-qubit gates or readout are broken is non-operational; :meth:`Calibration.to_target` can leave
  them out so the router avoids them;
- T2 > 2·T1 (unphysical but present in reported data) is kept as reported and noted.

``to_dict``/``from_dict`` (and the JSON forms) round-trip losslessly.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from .errors import CalibrationDataError

SCHEMA_VERSION = 1

# Seconds per unit of the values IBM publishes.
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}
_FREQ_UNITS = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
# Instructions that are not gates in the basis set but that a compiled circuit may contain.
NON_GATE_INSTRUCTIONS = ("measure", "reset", "delay")
BROKEN_ERROR = 1.0


@dataclass(frozen=True)
class QubitProps:
    t1_s: float | None = None
    t2_s: float | None = None
    readout_error: float | None = None
    readout_length_s: float | None = None
    frequency_hz: float | None = None


@dataclass(frozen=True)
class GateProps:
    name: str
    qubits: tuple[int, ...]
    error: float | None = None
    duration_s: float | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None and self.error >= BROKEN_ERROR


@dataclass(frozen=True)
class Calibration:
    backend_name: str
    num_qubits: int
    basis_gates: tuple[str, ...]
    coupling_map: tuple[tuple[int, int], ...]
    calibrated_at: dt.datetime
    qubits: tuple[QubitProps, ...]
    gates: tuple[GateProps, ...]
    dt_s: float | None = None
    rep_delay_s: float | None = None
    rep_delay_range_s: tuple[float, float] | None = None
    provider: str = "ibm"
    processor_family: str = ""
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    # When the device runs shots at a fixed repetition rate (``dynamic_reprate_enabled: false``), the shot
    # period: a shot takes max(rep_time, circuit + reset) rather than circuit + rep_delay (COST_MODEL.md B).
    fixed_rep_time_s: float | None = None
    # Qubits and gates IBM flags ``operational = 0`` (``BackendProperties.faulty_qubits()`` / ``faulty_gates()``):
    # left out of the target like broken ones, as qiskit-ibm-runtime's ``convert_to_target`` does.
    faulty_qubits: tuple[int, ...] = ()
    faulty_gates: tuple[tuple[str, tuple[int, ...]], ...] = ()

    # ----------------------------------------------------------------- lookups
    @functools.cached_property
    def _gate_index(self) -> dict[tuple[str, tuple[int, ...]], GateProps]:
        return {(g.name, g.qubits): g for g in self.gates}

    def gate(self, name: str, qubits: Iterable[int]) -> GateProps | None:
        """The calibrated gate ``name`` on ``qubits`` (ordered), or None."""
        return self._gate_index.get((name, tuple(qubits)))

    @functools.cached_property
    def two_qubit_gate_names(self) -> tuple[str, ...]:
        return tuple(sorted({g.name for g in self.gates if len(g.qubits) == 2 and g.name in self.basis_gates}))

    @functools.cached_property
    def _health(self) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
        """(broken directed edges, non-operational qubits) in one pass over the gates. A gate is broken when
        its error is >= 1 or IBM flags it non-operational; a qubit is non-operational when flagged so, or
        when one of its single-qubit basis gates or its readout is broken."""
        basis = set(self.basis_gates)
        edges, dead = set(), set(self.faulty_qubits)
        faulty = set(self.faulty_gates)
        for g in self.gates:
            if g.name in basis and ((g.error is not None and g.error >= BROKEN_ERROR)
                                    or (faulty and (g.name, g.qubits) in faulty)):
                if len(g.qubits) == 2:
                    edges.add(g.qubits)
                elif len(g.qubits) == 1:
                    dead.add(g.qubits[0])
        dead |= {q for q, p in enumerate(self.qubits)
                 if p.readout_error is not None and p.readout_error >= BROKEN_ERROR}
        return tuple(sorted(edges)), tuple(sorted(dead))

    @property
    def broken_edges(self) -> tuple[tuple[int, int], ...]:
        """Directed pairs whose two-qubit basis gate is broken (error >= 1)."""
        return self._health[0]

    @property
    def non_operational_qubits(self) -> tuple[int, ...]:
        """Qubits whose single-qubit basis gates or readout are broken (error >= 1)."""
        return self._health[1]

    def usable_coupling_map(self) -> tuple[tuple[int, int], ...]:
        broken = set(self.broken_edges)
        dead = set(self.non_operational_qubits)
        if not dead:
            return tuple(e for e in self.coupling_map if e not in broken)
        return tuple(e for e in self.coupling_map if e not in broken and e[0] not in dead and e[1] not in dead)

    # ------------------------------------------------------------ summaries
    def summary(self) -> dict[str, Any]:
        """The metrics the platform stores per snapshot and plots as trends (times in seconds)."""
        def stats(values: list[float], prefix: str, which=("median", "mean", "min")) -> dict[str, float | None]:
            out: dict[str, float | None] = {}
            for w in which:
                out[f"{prefix}_{w}"] = _stat(values, w)
            return out

        t1 = [q.t1_s for q in self.qubits if q.t1_s is not None]
        t2 = [q.t2_s for q in self.qubits if q.t2_s is not None]
        basis = set(self.basis_gates)
        ok1 = [g for g in self.gates if len(g.qubits) == 1 and g.name in basis and g.name not in ("rz",)]
        ok2 = [g for g in self.gates if len(g.qubits) == 2 and g.name in basis]
        out: dict[str, Any] = {}
        out.update(stats(t1, "t1"))
        out.update(stats(t2, "t2"))
        out["error_1q_median"] = _stat([g.error for g in ok1 if g.error is not None and not g.broken], "median")
        out["error_2q_median"] = _stat([g.error for g in ok2 if g.error is not None and not g.broken], "median")
        out["readout_error_median"] = _stat([q.readout_error for q in self.qubits if q.readout_error is not None
                                             and q.readout_error < BROKEN_ERROR], "median")
        out["duration_1q_median"] = _stat([g.duration_s for g in ok1 if g.duration_s is not None], "median")
        out["duration_2q_median"] = _stat([g.duration_s for g in ok2 if g.duration_s is not None], "median")
        out["readout_duration_median"] = _stat([q.readout_length_s for q in self.qubits
                                                if q.readout_length_s is not None], "median")
        out["non_operational_qubits"] = len(self.non_operational_qubits)
        out["broken_edges"] = len(self.broken_edges)
        return out

    # --------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "backend_name": self.backend_name,
            "provider": self.provider,
            "processor_family": self.processor_family,
            "num_qubits": self.num_qubits,
            "basis_gates": list(self.basis_gates),
            "coupling_map": [list(e) for e in self.coupling_map],
            "dt_s": self.dt_s,
            "rep_delay_s": self.rep_delay_s,
            "rep_delay_range_s": list(self.rep_delay_range_s) if self.rep_delay_range_s is not None else None,
            "calibrated_at": self.calibrated_at.isoformat(),
            "source": self.source,
            "qubits": [dataclasses.asdict(q) for q in self.qubits],
            "gates": [{"name": g.name, "qubits": list(g.qubits), "error": g.error, "duration_s": g.duration_s}
                      for g in self.gates],
            "notes": list(self.notes),
        } | self._optional_dict()

    def _optional_dict(self) -> dict[str, Any]:
        """Fields written only when set, so the content hash of snapshots without them is unchanged."""
        out: dict[str, Any] = {}
        if self.fixed_rep_time_s is not None:
            out["fixed_rep_time_s"] = self.fixed_rep_time_s
        if self.faulty_qubits:
            out["faulty_qubits"] = list(self.faulty_qubits)
        if self.faulty_gates:
            out["faulty_gates"] = [[name, list(qs)] for name, qs in self.faulty_gates]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Calibration":
        """Validate and load :meth:`to_dict` output. Raises CalibrationDataError naming the field."""
        if not isinstance(data, dict):
            raise CalibrationDataError("calibration must be a JSON object", field="calibration")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise CalibrationDataError(f"unsupported schema_version {version!r} (expected {SCHEMA_VERSION})",
                                       field="schema_version")
        name = _require(data, "backend_name", str)
        n = _require(data, "num_qubits", int)
        if n <= 0:
            raise CalibrationDataError("num_qubits must be positive", field="num_qubits")
        basis = _require(data, "basis_gates", list)
        if not all(isinstance(g, str) for g in basis):
            raise CalibrationDataError("basis_gates must be a list of gate names", field="basis_gates")
        coupling = tuple(_pair(e, n, "coupling_map") for e in _require(data, "coupling_map", list))
        qubits_raw = _require(data, "qubits", list)
        if len(qubits_raw) != n:
            raise CalibrationDataError(f"qubits has {len(qubits_raw)} entries, num_qubits is {n}", field="qubits")
        qubits = []
        for i, q in enumerate(qubits_raw):
            if not isinstance(q, dict):
                raise CalibrationDataError(f"qubits[{i}] must be an object", field=f"qubits[{i}]")
            unknown = set(q) - {f.name for f in dataclasses.fields(QubitProps)}
            if unknown:
                raise CalibrationDataError(f"qubits[{i}] has unknown keys {sorted(unknown)}", field=f"qubits[{i}]")
            qubits.append(QubitProps(**{k: _opt_float(v, f"qubits[{i}].{k}") for k, v in q.items()}))
        gates = []
        for i, g in enumerate(_require(data, "gates", list)):
            where = f"gates[{i}]"
            if not isinstance(g, dict) or not isinstance(g.get("name"), str):
                raise CalibrationDataError(f"{where} must be an object with a name", field=where)
            gq = g.get("qubits")
            if not isinstance(gq, list) or not gq or not all(isinstance(x, int) and 0 <= x < n for x in gq):
                raise CalibrationDataError(f"{where}.qubits must list qubit indices below {n}", field=f"{where}.qubits")
            gates.append(GateProps(g["name"], tuple(gq), _opt_float(g.get("error"), f"{where}.error"),
                                   _opt_float(g.get("duration_s"), f"{where}.duration_s")))
        rdr = data.get("rep_delay_range_s")
        if rdr is not None:
            if not isinstance(rdr, list) or len(rdr) != 2:
                raise CalibrationDataError("rep_delay_range_s must be [min, max]", field="rep_delay_range_s")
            rdr = (_opt_float(rdr[0], "rep_delay_range_s"), _opt_float(rdr[1], "rep_delay_range_s"))
        return cls(
            backend_name=name, num_qubits=n, basis_gates=tuple(basis), coupling_map=coupling,
            calibrated_at=_parse_datetime(_require(data, "calibrated_at", str), "calibrated_at"),
            qubits=tuple(qubits), gates=tuple(gates),
            dt_s=_opt_float(data.get("dt_s"), "dt_s"), rep_delay_s=_opt_float(data.get("rep_delay_s"), "rep_delay_s"),
            rep_delay_range_s=rdr, provider=str(data.get("provider") or ""),
            processor_family=str(data.get("processor_family") or ""), source=str(data.get("source") or ""),
            notes=tuple(str(x) for x in data.get("notes") or ()),
            fixed_rep_time_s=_opt_float(data.get("fixed_rep_time_s"), "fixed_rep_time_s"),
            faulty_qubits=_faulty_qubits(data.get("faulty_qubits"), n),
            faulty_gates=_faulty_gates(data.get("faulty_gates"), n),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "Calibration":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise CalibrationDataError(f"not valid JSON: {exc}", field="calibration") from exc
        return cls.from_dict(data)

    @functools.cached_property
    def content_hash(self) -> str:
        """sha256 of the calibration data itself (everything but where it was ingested from)."""
        data = self.to_dict()
        data.pop("source")
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def structure_key(self, exclude_broken: bool = True) -> str:
        """Hash of what routing depends on: device, size, native gates, usable couplers."""
        cache = self.__dict__.setdefault("_structure_keys", {})
        if exclude_broken not in cache:
            cache[exclude_broken] = self._structure_key(exclude_broken)
        return cache[exclude_broken]

    def _structure_key(self, exclude_broken: bool) -> str:
        edges = self.usable_coupling_map() if exclude_broken else self.coupling_map
        dead = self.non_operational_qubits if exclude_broken else ()
        payload = [self.backend_name, self.num_qubits, sorted(self.basis_gates), sorted(edges), list(dead)]
        return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()[:32]

    # ------------------------------------------------------------ qiskit
    def to_target(self, exclude_broken: bool = True, with_errors: bool = True):
        """A qiskit ``Target`` carrying this snapshot's durations (and errors unless ``with_errors=False``).

        Broken gates and the gates of non-operational qubits are left out when ``exclude_broken``.
        Basis gates qiskit does not know are skipped (noted in ``target_notes``).
        """
        from qiskit.circuit import Delay, Measure, Parameter, Reset
        from qiskit.circuit.library import get_standard_gate_name_mapping
        from qiskit.providers import QubitProperties
        from qiskit.transpiler import InstructionProperties, Target

        dead = set(self.non_operational_qubits) if exclude_broken else set()
        faulty = set(self.faulty_gates)
        target = Target(
            description=f"{self.backend_name} @ {self.calibrated_at.isoformat()}",
            num_qubits=self.num_qubits, dt=self.dt_s,
            qubit_properties=[QubitProperties(t1=q.t1_s, t2=q.t2_s, frequency=q.frequency_hz) for q in self.qubits],
        )
        mapping = get_standard_gate_name_mapping()
        by_name: dict[str, dict[tuple[int, ...], Any]] = {}
        for g in self.gates:
            if g.name not in self.basis_gates or g.name not in mapping or g.name in NON_GATE_INSTRUCTIONS:
                continue
            if exclude_broken and (g.broken or dead & set(g.qubits) or (g.name, g.qubits) in faulty):
                continue
            by_name.setdefault(g.name, {})[g.qubits] = InstructionProperties(
                duration=g.duration_s, error=g.error if with_errors else None)
        for name in self.basis_gates:
            if name in mapping and name in by_name:
                target.add_instruction(mapping[name], by_name[name], name=name)
        live = [q for q in range(self.num_qubits) if q not in dead]
        target.add_instruction(Measure(), {(q,): InstructionProperties(
            duration=self.qubits[q].readout_length_s,
            error=self.qubits[q].readout_error if with_errors else None) for q in live})
        resets = {g.qubits: g.duration_s for g in self.gates if g.name == "reset" and len(g.qubits) == 1}
        target.add_instruction(Reset(), {(q,): InstructionProperties(duration=resets.get((q,)))
                                         for q in live})
        target.add_instruction(Delay(Parameter("t")), {(q,): None for q in live})
        return target


# ------------------------------------------------------------------ helpers
def _stat(values: list, which: str) -> float | None:
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return None
    if which == "min":
        return vals[0]
    if which == "mean":
        return math.fsum(vals) / len(vals)
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def _require(data: dict, key: str, typ: type):
    if key not in data or data[key] is None:
        raise CalibrationDataError(f"missing required field '{key}'", field=key)
    value = data[key]
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        raise CalibrationDataError(f"field '{key}' must be of type {typ.__name__}", field=key)
    return value


def _opt_float(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationDataError(f"{where} must be a number or null, got {value!r}", field=where)
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise CalibrationDataError(f"{where} must be a finite non-negative number, got {value!r}", field=where)
    return value


def _faulty_qubits(value: Any, n: int) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(q, int) and not isinstance(q, bool) and 0 <= q < n
                                              for q in value):
        raise CalibrationDataError(f"faulty_qubits must list qubit indices below {n}", field="faulty_qubits")
    return tuple(sorted(set(value)))


def _faulty_gates(value: Any, n: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if value is None:
        return ()
    out = []
    for i, g in enumerate(value if isinstance(value, list) else [None]):
        if (not isinstance(g, list) or len(g) != 2 or not isinstance(g[0], str) or not isinstance(g[1], list)
                or not all(isinstance(q, int) and not isinstance(q, bool) and 0 <= q < n for q in g[1])):
            raise CalibrationDataError(f"faulty_gates[{i}] must be [name, [qubits]] with qubits below {n}",
                                       field="faulty_gates")
        out.append((g[0], tuple(g[1])))
    return tuple(sorted(set(out)))


def _pair(edge: Any, n: int, where: str) -> tuple[int, int]:
    if (not isinstance(edge, (list, tuple)) or len(edge) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < n for x in edge)):
        raise CalibrationDataError(f"{where} entries must be [q0, q1] with qubits below {n}, got {edge!r}",
                                   field=where)
    return (edge[0], edge[1])


def _parse_datetime(value: Any, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value
    else:
        try:
            stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise CalibrationDataError(f"{where} is not an ISO 8601 date-time: {value!r}", field=where) from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.astimezone(dt.timezone.utc)


def _convert(value: Any, unit: str | None, where: str, dt_s: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationDataError(f"{where} must be a number, got {value!r}", field=where)
    unit = unit or ""
    if unit in _TIME_UNITS:
        return float(value) * _TIME_UNITS[unit]
    if unit in _FREQ_UNITS:
        return float(value) * _FREQ_UNITS[unit]
    if unit == "dt":
        if dt_s is None:
            raise CalibrationDataError(f"{where} is given in dt but the backend has no dt", field=where)
        return float(value) * dt_s
    if unit == "":
        return float(value)
    raise CalibrationDataError(f"{where} has unknown unit {unit!r}", field=where)


def _family(conf: dict) -> str:
    ptype = conf.get("processor_type")
    if isinstance(ptype, dict) and ptype.get("family"):
        return str(ptype["family"])
    return ""


# ------------------------------------------------------------- builders
def from_properties(props: dict, conf: dict | None = None, source: str = "properties") -> Calibration:
    """Build from IBM BackendProperties JSON (``props``) and, when available, the configuration JSON.

    The configuration gives the coupling map, basis gates, ``dt`` (ns) and repetition delays (us), exactly as
    in the ``conf_*.json`` files. Without it they are inferred from the properties and noted.
    """
    if not isinstance(props, dict):
        raise CalibrationDataError("properties must be a JSON object", field="properties")
    conf = conf or {}
    notes: list[str] = []
    name = props.get("backend_name") or conf.get("backend_name")
    if not isinstance(name, str) or not name:
        raise CalibrationDataError("missing required field 'backend_name'", field="backend_name")
    if "last_update_date" not in props:
        raise CalibrationDataError("missing required field 'last_update_date'", field="last_update_date")
    calibrated_at = _parse_datetime(props["last_update_date"], "last_update_date")
    raw_qubits = props.get("qubits")
    if not isinstance(raw_qubits, list) or not raw_qubits:
        raise CalibrationDataError("missing required field 'qubits' (a list per qubit)", field="qubits")
    raw_gates = props.get("gates")
    if not isinstance(raw_gates, list):
        raise CalibrationDataError("missing required field 'gates'", field="gates")
    n = conf.get("n_qubits") or len(raw_qubits)
    if len(raw_qubits) != n:
        raise CalibrationDataError(f"qubits lists {len(raw_qubits)} qubits, the configuration {n}", field="qubits")

    dt_s = conf.get("dt")
    dt_s = float(dt_s) * 1e-9 if isinstance(dt_s, (int, float)) else None  # conf JSON gives dt in ns

    qubits: list[QubitProps] = []
    faulty_qubits: list[int] = []
    keymap = {"T1": "t1_s", "T2": "t2_s", "readout_error": "readout_error",
              "readout_length": "readout_length_s", "frequency": "frequency_hz"}
    for i, entries in enumerate(raw_qubits):
        if not isinstance(entries, list):
            raise CalibrationDataError(f"qubits[{i}] must be a list of parameters", field=f"qubits[{i}]")
        values: dict[str, float | None] = {}
        for j, entry in enumerate(entries):
            if not isinstance(entry, dict) or "name" not in entry:
                raise CalibrationDataError(f"qubits[{i}][{j}] must be an object with a name", field=f"qubits[{i}][{j}]")
            if entry["name"] == "operational" and _is_off(entry.get("value")):
                faulty_qubits.append(i)
            key = keymap.get(entry["name"])
            if key:
                values[key] = _convert(entry.get("value"), entry.get("unit"), f"qubits[{i}].{entry['name']}", dt_s)
        qp = QubitProps(**values)
        qubits.append(qp)
    for label, attr in (("T1", "t1_s"), ("T2", "t2_s"), ("readout_error", "readout_error"),
                        ("readout_length", "readout_length_s")):
        missing = [i for i, q in enumerate(qubits) if getattr(q, attr) is None]
        if missing:
            notes.append(f"{label} missing on qubits {missing}")
    over = [i for i, q in enumerate(qubits) if q.t1_s and q.t2_s and q.t2_s > 2 * q.t1_s]
    if over:
        notes.append(f"T2 > 2*T1 as reported (kept, not clipped) on qubits {over}")

    gates: list[GateProps] = []
    faulty_gates: list[tuple[str, tuple[int, ...]]] = []
    for i, g in enumerate(raw_gates):
        where = f"gates[{i}]"
        if not isinstance(g, dict) or not isinstance(g.get("gate"), str):
            raise CalibrationDataError(f"{where} must be an object with a 'gate' name", field=where)
        gq = g.get("qubits")
        if not isinstance(gq, list) or not gq or not all(isinstance(x, int) and 0 <= x < n for x in gq):
            raise CalibrationDataError(f"{where}.qubits must list qubit indices below {n}", field=f"{where}.qubits")
        error = duration = None
        for p in g.get("parameters") or []:
            if not isinstance(p, dict):
                raise CalibrationDataError(f"{where}.parameters entries must be objects", field=f"{where}.parameters")
            if p.get("name") == "gate_error":
                error = _convert(p.get("value"), p.get("unit"), f"{where}.gate_error", dt_s)
            elif p.get("name") == "gate_length":
                duration = _convert(p.get("value"), p.get("unit"), f"{where}.gate_length", dt_s)
            elif p.get("name") == "operational" and _is_off(p.get("value")):
                faulty_gates.append((g["gate"], tuple(gq)))
        gates.append(GateProps(g["gate"], tuple(gq), error, duration))

    basis = conf.get("basis_gates")
    if not basis:
        basis = sorted({g.name for g in gates if g.name not in NON_GATE_INSTRUCTIONS})
        notes.append("basis_gates inferred from the calibrated gates (no configuration given)")
    coupling = conf.get("coupling_map")
    if coupling is None:
        coupling = sorted({g.qubits for g in gates if len(g.qubits) == 2 and g.name in basis})
        notes.append("coupling_map inferred from the calibrated two-qubit gates (no configuration given)")
    coupling_t = tuple(_pair(e, n, "coupling_map") for e in coupling)

    no_error = sorted({g.name for g in gates if g.error is None and g.name in basis and g.name not in ("rz",)})
    if no_error:
        notes.append(f"gate_error missing for some {', '.join(no_error)} gates")
    rep = conf.get("default_rep_delay")
    rep_range = conf.get("rep_delay_range")
    cal = Calibration(
        backend_name=name, num_qubits=n, basis_gates=tuple(basis), coupling_map=coupling_t,
        calibrated_at=calibrated_at, qubits=tuple(qubits), gates=tuple(gates), dt_s=dt_s,
        rep_delay_s=float(rep) * 1e-6 if isinstance(rep, (int, float)) else None,  # conf JSON: microseconds
        rep_delay_range_s=(float(rep_range[0]) * 1e-6, float(rep_range[1]) * 1e-6)
        if isinstance(rep_range, list) and len(rep_range) == 2 else None,
        provider="ibm", processor_family=_family(conf), source=source, notes=tuple(notes),
        fixed_rep_time_s=_fixed_rep_time(conf), faulty_qubits=tuple(sorted(set(faulty_qubits))),
        faulty_gates=tuple(sorted(set(faulty_gates))),
    )
    if cal.fixed_rep_time_s is not None:
        notes.append(f"fixed repetition rate (dynamic_reprate_enabled false): a shot takes "
                     f"{cal.fixed_rep_time_s * 1e6:g} us (rep_times)")
    elif conf.get("dynamic_reprate_enabled") is False:
        notes.append("fixed repetition rate but no rep_times given: shot time uses the rep_delay model")
    if faulty_qubits or faulty_gates:
        notes.append(f"flagged non-operational by IBM (operational = 0): qubits {sorted(set(faulty_qubits))}, "
                     f"gates {[[n_, list(q_)] for n_, q_ in sorted(set(faulty_gates))]}")
    if cal.rep_delay_s is None:
        notes.append("default_rep_delay missing: wall-clock terms will use the caller's rep_delay")
    if cal.broken_edges:
        notes.append(f"broken two-qubit gates (error >= 1) on {len(cal.broken_edges)} directed edges: "
                     f"{[list(e) for e in cal.broken_edges]}")
    if cal.non_operational_qubits:
        notes.append(f"non-operational qubits (broken 1q gate or readout): {list(cal.non_operational_qubits)}")
    return dataclasses.replace(cal, notes=tuple(notes))


def _is_off(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and float(value) == 0.0


def _fixed_rep_time(conf: dict) -> float | None:
    """The shot period of a device without a dynamic repetition rate: ``rep_times`` (IBM's configuration JSON
    gives microseconds; ``BackendConfiguration.to_dict()`` and some old files give seconds, told apart by
    size: no device repeats faster than 1 us or slower than 1 s). The default is the first entry, as IBM's
    legacy ``default_rep_time`` convention had it; ``default_rep_time`` wins where given."""
    if conf.get("dynamic_reprate_enabled") is not False:
        return None
    value = conf.get("default_rep_time")
    times = conf.get("rep_times")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        if not isinstance(times, list) or not times or not isinstance(times[0], (int, float)):
            return None
        value = times[0]
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        return None
    return value if value < 1.0 else value * 1e-6


def from_backend(backend, source: str | None = None) -> Calibration:
    """Build from a qiskit BackendV2: the IBM properties/configuration when it has them (IBM and fake
    backends do), otherwise its Target (durations, errors, qubit T1/T2)."""
    props = getattr(backend, "properties", None)
    conf = getattr(backend, "configuration", None)
    if callable(props) and callable(conf):
        p, c = props(), conf()
        if p is not None and c is not None:
            return from_properties(p.to_dict(), _conf_to_json_units(c.to_dict()),
                                   source=source or f"backend:{backend.name}")
    return _from_target(backend, source or f"backend:{backend.name}")


def _conf_to_json_units(conf: dict) -> dict:
    """``BackendConfiguration.to_dict()`` keeps dt in seconds and rep delays in seconds; the JSON files use
    ns and us. Normalise to the JSON units :func:`from_properties` expects."""
    conf = dict(conf)
    if isinstance(conf.get("dt"), (int, float)) and conf["dt"] < 1e-6:
        conf["dt"] = conf["dt"] * 1e9
    if isinstance(conf.get("default_rep_delay"), (int, float)) and conf["default_rep_delay"] < 1:
        conf["default_rep_delay"] = conf["default_rep_delay"] * 1e6
    rng = conf.get("rep_delay_range")
    if isinstance(rng, (list, tuple)) and len(rng) == 2 and max(rng) < 1:
        conf["rep_delay_range"] = [rng[0] * 1e6, rng[1] * 1e6]
    return conf


def _from_target(backend, source: str) -> Calibration:
    target = backend.target
    n = target.num_qubits
    qprops = target.qubit_properties or [None] * n
    measure = target["measure"] if "measure" in target else {}
    qubits = []
    for q in range(n):
        qp = qprops[q]
        m = measure.get((q,)) if measure else None
        qubits.append(QubitProps(t1_s=getattr(qp, "t1", None), t2_s=getattr(qp, "t2", None),
                                 readout_error=getattr(m, "error", None), readout_length_s=getattr(m, "duration", None),
                                 frequency_hz=getattr(qp, "frequency", None)))
    gates = []
    basis = []
    for name in target.operation_names:
        if name in NON_GATE_INSTRUCTIONS or name in ("if_else", "for_loop", "while_loop", "switch_case"):
            if name == "reset":
                for qargs, ip in target[name].items():
                    if qargs is not None:
                        gates.append(GateProps("reset", tuple(qargs), getattr(ip, "error", None),
                                               getattr(ip, "duration", None)))
            continue
        basis.append(name)
        for qargs, ip in target[name].items():
            if qargs is not None:
                gates.append(GateProps(name, tuple(qargs), getattr(ip, "error", None), getattr(ip, "duration", None)))
    coupling = sorted({g.qubits for g in gates if len(g.qubits) == 2})
    return Calibration(
        backend_name=backend.name, num_qubits=n, basis_gates=tuple(sorted(basis)), coupling_map=tuple(coupling),
        calibrated_at=dt.datetime.now(dt.timezone.utc), qubits=tuple(qubits), gates=tuple(gates), dt_s=target.dt,
        source=source, notes=("built from a Target without properties: calibrated_at is the build time",),
    )


def from_ibm(service, backend_name: str, at: dt.datetime | None = None) -> Calibration:
    """Fetch from the live IBM service (a ``QiskitRuntimeService`` or anything with the same interface).

    ``at`` asks for the calibration valid at that date (``backend.properties(datetime=at)``).
    """
    backend = service.backend(backend_name)
    props = backend.properties(datetime=at) if at is not None else backend.properties()
    if props is None:
        raise CalibrationDataError(f"IBM returned no calibration for {backend_name} at {at}", field="backend")
    conf = backend.configuration()
    return from_properties(props.to_dict() if hasattr(props, "to_dict") else props,
                           _conf_to_json_units(conf.to_dict() if hasattr(conf, "to_dict") else conf),
                           source="ibm" if at is None else f"ibm:history:{at.date().isoformat()}")


# ------------------------------------------------------------- fake provider
def fake_backend_dir() -> str:
    import qiskit_ibm_runtime.fake_provider as fp
    return os.path.join(os.path.dirname(fp.__file__), "backends")


def fake_backend_names() -> list[str]:
    """Short names (``sherbrooke``, ``fez`` ...) of bundled fake backends that ship properties."""
    root = fake_backend_dir()
    return sorted(d for d in os.listdir(root)
                  if os.path.isfile(os.path.join(root, d, f"props_{d}.json"))
                  and os.path.isfile(os.path.join(root, d, f"conf_{d}.json")))


def load_fake_calibration(short_name: str) -> Calibration:
    """The real device snapshot shipped as ``fake_provider/backends/<name>/props_<name>.json``."""
    short = short_name.lower().removeprefix("fake_").removeprefix("ibm_").removeprefix("ibmq_")
    folder = os.path.join(fake_backend_dir(), short)
    props_path = os.path.join(folder, f"props_{short}.json")
    if not os.path.isfile(props_path):
        raise CalibrationDataError(f"no bundled fake backend named {short_name!r}", field="backend")
    with open(props_path) as fh:
        props = json.load(fh)
    with open(os.path.join(folder, f"conf_{short}.json")) as fh:
        conf = json.load(fh)
    return from_properties(props, conf, source=f"fake:{short}")


def load_fake_calibrations(names: Iterable[str] | None = None) -> Iterator[Calibration]:
    for name in (names or fake_backend_names()):
        yield load_fake_calibration(name)
