"""The shipped calibration history (issue 15): real IBM calibrations frozen in released qiskit wheels.

The pack (``history.json.xz``, built by ``scripts/build_history_pack.py``) holds each real snapshot's
properties JSON, a reference to its configuration JSON (stored once per distinct content), its provenance and
the notes the builder made (stand-in names, configurations paired from the nearest snapshot). Loading it needs
no network. :func:`load_history` yields one :class:`HistoryEntry` per snapshot: the normalised
:class:`~cost_engine.calibration.Calibration`, or the reason it cannot be used.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import lzma
from dataclasses import dataclass
from typing import Iterable, Iterator

from .calibration import Calibration, from_properties
from .errors import CalibrationDataError

PACK_FORMAT = 1


@dataclass(frozen=True)
class HistoryEntry:
    device: str
    backend_name: str
    calibrated_at: str
    origin: str
    calibration: Calibration | None = None
    skip_reason: str | None = None

    @property
    def label(self) -> str:
        """Device and calibration time in UTC (the time the API and --snapshot use)."""
        import datetime as dt

        try:
            stamp = dt.datetime.fromisoformat(self.calibrated_at.replace("Z", "+00:00"))
            if stamp.tzinfo is not None:
                return f"{self.backend_name} {stamp.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
        except ValueError:
            pass
        return f"{self.backend_name} {self.calibrated_at[:19]}"


@functools.lru_cache(maxsize=2)
def read_pack(path: str) -> dict:
    """The decompressed pack (cached per path: it is read-only data)."""
    try:
        with lzma.open(path, "rb") as fh:
            pack = json.loads(fh.read())
    except FileNotFoundError as exc:
        raise CalibrationDataError(f"calibration history pack not found at {path} "
                                   "(re-create it with scripts/build_history_pack.py)", field="history") from exc
    except (lzma.LZMAError, ValueError) as exc:
        raise CalibrationDataError(f"calibration history pack {path} is unreadable: {exc}", field="history") from exc
    if not isinstance(pack, dict) or pack.get("format") != PACK_FORMAT:
        raise CalibrationDataError(f"calibration history pack {path} has format {pack.get('format')!r}, "
                                   f"expected {PACK_FORMAT}", field="history")
    return pack


def _matches(entry: dict, names: set[str]) -> bool:
    if not names:
        return True
    short = entry["device"].lower()
    return bool({entry["backend_name"].lower(), entry["recorded_name"].lower(), short} & names)


def _short(name: str) -> str:
    return name.strip().lower().removeprefix("fake_").removeprefix("ibmq_").removeprefix("ibm_")


def adapt_paired_conf(props: dict, conf: dict) -> tuple[dict | None, list[str]]:
    """A configuration borrowed from another snapshot of the device must describe the same hardware as these
    properties: a different qubit count drops it; basis gates or couplers that these properties do not
    calibrate are replaced by the calibrated ones. Returns (configuration or None, notes)."""
    n_props = len(props.get("qubits") or [])
    if conf.get("n_qubits") not in (None, n_props):
        return None, [f"the paired configuration has {conf.get('n_qubits')} qubits, these properties "
                      f"{n_props}: not used (basis gates and coupling map inferred from the calibrated gates)"]
    notes = []
    calibrated = {g.get("gate") for g in props.get("gates") or []}
    basis = list(conf.get("basis_gates") or [])
    if basis and not set(basis) <= calibrated | {"measure", "reset", "delay"}:
        new_basis = [g for g in sorted(calibrated) if g and g not in ("measure", "reset", "delay")]
        notes.append(f"the paired configuration's basis gates {basis} are not all calibrated here: "
                     f"using the calibrated gates {new_basis}")
        conf = {**conf, "basis_gates": new_basis}
    pairs = {tuple(g["qubits"]) for g in props.get("gates") or []
             if isinstance(g.get("qubits"), list) and len(g["qubits"]) == 2 and g.get("gate") in conf["basis_gates"]}
    coupling = {tuple(e) for e in conf.get("coupling_map") or []}
    if pairs and coupling and pairs != coupling:
        notes.append(f"the paired configuration's coupling map differs from the calibrated couplers "
                     f"({len(coupling)} vs {len(pairs)} directed pairs): using the calibrated couplers")
        conf = {**conf, "coupling_map": [list(p) for p in sorted(pairs)]}
    return conf, notes


def history_devices(path: str) -> list[str]:
    return sorted({s["device"] for s in read_pack(path)["snapshots"]})


def load_history(path: str, names: Iterable[str] | None = None) -> Iterator[HistoryEntry]:
    """Every snapshot of the pack (or of the named devices: ``sherbrooke``, ``ibm_sherbrooke`` ...), oldest
    first per device, then the files the builder left out, each with its reason."""
    pack = read_pack(path)
    wanted = {n.strip().lower() for n in names or ()} | {_short(n) for n in names or ()}
    known = {s["device"] for s in pack["snapshots"]} | {s["device"] for s in pack["skipped"]}
    unknown = sorted(n for n in names or () if _short(n) not in known and n.strip().lower() not in
                     {s["backend_name"].lower() for s in pack["snapshots"]})
    if unknown:
        raise CalibrationDataError(f"no calibration history for {unknown}; the pack holds: "
                                   f"{', '.join(sorted(known))}", field="backend")
    confs = pack["configurations"]
    for s in pack["snapshots"]:
        if not _matches(s, wanted):
            continue
        conf = confs.get(s["conf_sha256"]) if s["conf_sha256"] else None
        extra: list[str] = []
        if conf is not None and any(n.startswith("configuration not in this release") for n in s["notes"]):
            conf, extra = adapt_paired_conf(s["props"], conf)
        base = dict(device=s["device"], backend_name=s["backend_name"], calibrated_at=s["calibrated_at"],
                    origin=s["origin"])
        try:
            cal = from_properties(s["props"], conf, source=f"history:{s['origin'].split(':')[0]}:{s['device']}"[:100])
        except CalibrationDataError as exc:
            yield HistoryEntry(**base, skip_reason=f"cannot be normalised: {exc}")
            continue
        notes = [f"from {s['origin']} (props sha256 {s['props_sha256'][:12]})", *s["notes"], *extra]
        cal = dataclasses.replace(cal, backend_name=s["backend_name"], notes=tuple(notes) + cal.notes)
        yield HistoryEntry(**base, calibration=cal)
    for s in pack["skipped"]:
        if _matches({**s, "recorded_name": s["backend_name"]}, wanted):
            yield HistoryEntry(device=s["device"], backend_name=s["backend_name"], calibrated_at=s["calibrated_at"],
                               origin=s["origin"], skip_reason=s["reason"])
