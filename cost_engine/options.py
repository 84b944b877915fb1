"""Cost options of an estimate and the version of the cost model (COST_MODEL.md, "Model versions")."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

# 2: calibration-aware placement by default, fixed repetition rates, routing overhead in native gates,
#    IBM's operational flags honoured (see docs/COST_MODEL.md, "Model versions")
MODEL_VERSION = "hanas-quantum-2"
LAYOUTS = ("calibrated", "structure", "qiskit")


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
