"""HQNN architecture genome (COST_MODEL.md section D) and the integer-coded search space NSGA-II explores."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, dataclass_fields

ENCODINGS = ("angle_x", "angle_y", "angle_z", "amplitude")
ROTATIONS = ("rx", "ry", "rz")
ENTANGLERS = ("none", "linear", "ring", "full")
ENTANGLER_GATES = ("cx", "cz")
HEADS = ("linear", "mlp")
MAX_QUBITS = 12


def _fail(message: str, field_name: str):
    raise ConfigError(message, field=field_name)


@dataclass(frozen=True)
class Genome:
    """One HQNN: classical pre-layers -> encoder -> variational layers -> <Z_i> -> classical head."""

    n_qubits: int = 4
    n_layers: int = 2
    encoding: str = "angle_y"
    rotations: tuple[str, ...] = ("ry", "rz")
    entangler: str = "ring"
    entangler_gate: str = "cx"
    pre_widths: tuple[int, ...] = ()
    head: str = "linear"
    freeze_pre: bool = False  # the classical pre-layer stays at its seeded initialisation (not trained)

    def validate(self) -> "Genome":
        for name, lo, hi in (("n_qubits", 2, MAX_QUBITS), ("n_layers", 1, 8)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                _fail(f"{name} must be an integer in [{lo}, {hi}], got {v!r}", name)
        if self.encoding not in ENCODINGS:
            _fail(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}", "encoding")
        if self.encoding == "amplitude" and self.n_qubits > 10:
            _fail("amplitude encoding is limited to 10 qubits (1024 input features)", "n_qubits")
        rot = self.rotations
        if (not isinstance(rot, tuple) or not rot or len(set(rot)) != len(rot)
                or any(r not in ROTATIONS for r in rot)):
            _fail(f"rotations must be a non-empty list of distinct gates from {ROTATIONS}, got {rot!r}", "rotations")
        if self.entangler not in ENTANGLERS:
            _fail(f"entangler must be one of {ENTANGLERS}, got {self.entangler!r}", "entangler")
        if self.entangler_gate not in ENTANGLER_GATES:
            _fail(f"entangler_gate must be one of {ENTANGLER_GATES}, got {self.entangler_gate!r}", "entangler_gate")
        pw = self.pre_widths
        if (not isinstance(pw, tuple) or len(pw) > 2
                or any(isinstance(w, bool) or not isinstance(w, int) or not 4 <= w <= 128 for w in pw)):
            _fail(f"pre_widths must be 0 to 2 integers in [4, 128], got {pw!r}", "pre_widths")
        if self.head not in HEADS:
            _fail(f"head must be one of {HEADS}, got {self.head!r}", "head")
        if not isinstance(self.freeze_pre, bool):
            _fail(f"freeze_pre must be true or false, got {self.freeze_pre!r}", "freeze_pre")
        return self

    @property
    def encoder_width(self) -> int:
        """Features the quantum layer takes: one angle per qubit, or 2^n amplitudes."""
        return 2 ** self.n_qubits if self.encoding == "amplitude" else self.n_qubits

    def entangler_pairs(self) -> list[tuple[int, int]]:
        n = self.n_qubits
        if self.entangler == "none":
            return []
        if self.entangler == "full":
            return [(i, j) for i in range(n) for j in range(i + 1, n)]
        pairs = [(i, i + 1) for i in range(n - 1)]
        if self.entangler == "ring" and n > 2:
            pairs.append((n - 1, 0))
        return pairs

    @property
    def n_quantum_params(self) -> int:
        return self.n_layers * len(self.rotations) * self.n_qubits

    def trainable_params(self, n_features: int, n_classes: int) -> int:
        """Trainable parameters of the model this genome builds (``HQNN.param_counts()["total"]``), counted
        without torch: pre-layers (unless frozen), circuit weights, head."""
        count, width = 0, n_features
        for w in (*self.pre_widths, self.encoder_width):
            count += width * w + w
            width = w
        if self.freeze_pre:
            count = 0
        count += self.n_quantum_params
        if self.head == "mlp":
            return count + self.n_qubits * 16 + 16 + 16 * n_classes + n_classes
        return count + self.n_qubits * n_classes + n_classes

    def to_dict(self) -> dict[str, Any]:
        """``freeze_pre`` appears only when true, so the keys of genomes with a trained pre-layer (the default,
        and every genome stored before the option existed) stay what they were."""
        d = {"n_qubits": self.n_qubits, "n_layers": self.n_layers, "encoding": self.encoding,
             "rotations": list(self.rotations), "entangler": self.entangler,
             "entangler_gate": self.entangler_gate, "pre_widths": list(self.pre_widths), "head": self.head}
        if self.freeze_pre:
            d["freeze_pre"] = True
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "Genome":
        values = dataclass_fields(cls, data, "genome", "genome")
        for key in ("rotations", "pre_widths"):
            if key in values and isinstance(values[key], list):
                values[key] = tuple(values[key])
        return cls(**values).validate()

    def key(self) -> str:
        """Stable short id: two equal genomes share it (used to never train one twice in a run)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:24]


def canonical(g: Genome, space: "SearchSpace | None" = None) -> Genome:
    """One representative of genomes that build the same network: on two qubits ring and full entanglers are
    the linear one; without an entangler the entangler gate is irrelevant. The search dedupes evaluations on
    the canonical genome's key (only when the representative is inside ``space``)."""
    entangler, gate = g.entangler, g.entangler_gate
    if g.n_qubits == 2 and entangler in ("ring", "full"):
        entangler = "linear"
    if entangler == "none":
        gate = "cx"
    if space is not None and (entangler not in space.entanglers or gate not in space.entangler_gates):
        return g
    return dataclasses.replace(g, entangler=entangler, entangler_gate=gate)


DEFAULT_ROTATION_SETS = (("ry",), ("rx", "ry"), ("ry", "rz"), ("rx", "ry", "rz"))
DEFAULT_PRE_WIDTHS = ((), (8,), (16,), (32,), (16, 8))


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of the search. One integer variable per gene: a value (qubits, layers) or an index into a
    list of choices."""

    min_qubits: int = 2
    max_qubits: int = 6
    min_layers: int = 1
    max_layers: int = 4
    encodings: tuple[str, ...] = ("angle_x", "angle_y", "angle_z", "amplitude")
    rotation_sets: tuple[tuple[str, ...], ...] = DEFAULT_ROTATION_SETS
    entanglers: tuple[str, ...] = ENTANGLERS
    entangler_gates: tuple[str, ...] = ENTANGLER_GATES
    pre_widths: tuple[tuple[int, ...], ...] = DEFAULT_PRE_WIDTHS
    heads: tuple[str, ...] = HEADS
    freeze_pre_layer: bool = False  # every genome keeps its classical pre-layer frozen (trained and costed so)

    GENES = ("n_qubits", "n_layers", "encoding", "rotations", "entangler", "entangler_gate", "pre_widths", "head")

    def validate(self) -> "SearchSpace":
        for lo, hi, a, b in (("min_qubits", "max_qubits", 2, MAX_QUBITS), ("min_layers", "max_layers", 1, 8)):
            vlo, vhi = getattr(self, lo), getattr(self, hi)
            for name, v in ((lo, vlo), (hi, vhi)):
                if isinstance(v, bool) or not isinstance(v, int) or not a <= v <= b:
                    _fail(f"{name} must be an integer in [{a}, {b}], got {v!r}", name)
            if vlo > vhi:
                _fail(f"{lo} ({vlo}) exceeds {hi} ({vhi})", lo)
        for name in ("encodings", "rotation_sets", "entanglers", "entangler_gates", "pre_widths", "heads"):
            if not getattr(self, name):
                _fail(f"{name} must list at least one choice", name)
        # every combination must be a valid genome
        for enc in self.encodings:
            Genome(n_qubits=min(self.max_qubits, 10) if enc == "amplitude" else self.max_qubits,
                   encoding=enc).validate()
        for r in self.rotation_sets:
            Genome(rotations=tuple(r)).validate()
        for e in self.entanglers:
            Genome(entangler=e).validate()
        for g in self.entangler_gates:
            Genome(entangler_gate=g).validate()
        for w in self.pre_widths:
            Genome(pre_widths=tuple(w)).validate()
        for h in self.heads:
            Genome(head=h).validate()
        if not isinstance(self.freeze_pre_layer, bool):
            _fail(f"freeze_pre_layer must be true or false, got {self.freeze_pre_layer!r}", "freeze_pre_layer")
        if "amplitude" in self.encodings and self.max_qubits > 10:
            _fail("amplitude encoding allows at most 10 qubits: lower max_qubits or drop it", "encodings")
        return self

    @property
    def n_var(self) -> int:
        return len(self.GENES)

    @property
    def xl(self) -> np.ndarray:
        return np.array([self.min_qubits, self.min_layers, 0, 0, 0, 0, 0, 0], dtype=int)

    @property
    def xu(self) -> np.ndarray:
        return np.array([self.max_qubits, self.max_layers, len(self.encodings) - 1, len(self.rotation_sets) - 1,
                         len(self.entanglers) - 1, len(self.entangler_gates) - 1, len(self.pre_widths) - 1,
                         len(self.heads) - 1], dtype=int)

    def decode(self, x) -> Genome:
        v = np.clip(np.rint(np.asarray(x, dtype=float)).astype(int), self.xl, self.xu)
        return canonical(Genome(n_qubits=int(v[0]), n_layers=int(v[1]), encoding=self.encodings[v[2]],
                      rotations=tuple(self.rotation_sets[v[3]]), entangler=self.entanglers[v[4]],
                      entangler_gate=self.entangler_gates[v[5]], pre_widths=tuple(self.pre_widths[v[6]]),
                      head=self.heads[v[7]], freeze_pre=self.freeze_pre_layer), self)

    def encode(self, g: Genome) -> np.ndarray:
        try:
            return np.array([g.n_qubits, g.n_layers, self.encodings.index(g.encoding),
                             [tuple(r) for r in self.rotation_sets].index(tuple(g.rotations)),
                             self.entanglers.index(g.entangler), self.entangler_gates.index(g.entangler_gate),
                             [tuple(w) for w in self.pre_widths].index(tuple(g.pre_widths)),
                             self.heads.index(g.head)], dtype=int)
        except ValueError as exc:
            raise ConfigError(f"genome is outside this search space: {exc}", field="genome") from exc

    def random_genome(self, rng: np.random.Generator) -> Genome:
        return self.decode(rng.integers(self.xl, self.xu + 1))

    def largest_genome(self) -> Genome:
        """The genome with the most trainable parameters the space allows (for the hypervolume reference)."""
        widest_pre = max(self.pre_widths, key=lambda w: (sum(w), len(w)))
        enc = "amplitude" if "amplitude" in self.encodings else self.encodings[0]
        return Genome(n_qubits=self.max_qubits, n_layers=self.max_layers, encoding=enc,
                      rotations=tuple(max(self.rotation_sets, key=len)), entangler=self.entanglers[0],
                      entangler_gate=self.entangler_gates[0], pre_widths=tuple(widest_pre),
                      head="mlp" if "mlp" in self.heads else self.heads[0])

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["rotation_sets"] = [list(r) for r in self.rotation_sets]
        d["pre_widths"] = [list(w) for w in self.pre_widths]
        for k in ("encodings", "entanglers", "entangler_gates", "heads"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "SearchSpace":
        values = dataclass_fields(cls, data, "search-space", "space")
        try:
            for k in ("encodings", "entanglers", "entangler_gates", "heads"):
                if k in values:
                    values[k] = tuple(values[k])
            if "rotation_sets" in values:
                values["rotation_sets"] = tuple(tuple(r) for r in values["rotation_sets"])
            if "pre_widths" in values:
                values["pre_widths"] = tuple(tuple(w) for w in values["pre_widths"])
        except TypeError as exc:
            raise ConfigError(f"malformed search space: {exc}", field="space") from exc
        return cls(**values)
