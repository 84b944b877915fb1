"""How many circuit executions one training sample costs on hardware (COST_MODEL.md section C).

The parameter-shift rule gives the gradient of an expectation with respect to one rotation angle from two
extra executions of the circuit (the angle shifted by +pi/2 and -pi/2). Training an HQNN on a QPU needs the
gradient with respect to every circuit angle that something trainable depends on:

- the variational weights that receive a gradient (``requires_grad``), and
- every *data-dependent* angle of the encoding when the circuit's input requires a gradient, that is when
  the classical pre-layer in front of the circuit is trained: its gradient flows back through the encoding
  angles (chain rule), so each of those angles needs its own shifts too.

So N_eval = 1 + 2 x (weights with a gradient + data-dependent encoding angles with a gradient).

Data-dependent encoding angles are counted on the circuit that would run:
- angle encodings: the model's own qiskit circuit (:func:`cost_engine.hqnn.build_circuit`), its ``x`` inputs;
- amplitude encoding: qiskit's ``StatePreparation`` of a generic real vector (the pre-layer's output), its
  synthesis decomposed to single-qubit rotations and CX; a rotation is data-dependent when it changes under
  a small perturbation of the vector that keeps its signs (signs only switch phases by pi: piecewise constant,
  zero gradient almost everywhere). Qiskit's synthesis uses 2^n - 1 such rotations, which is also the
  dimension of the real unit sphere in 2^n dimensions, so no shift scheme can use fewer.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

_ONE_QUBIT_ROTATIONS = ("u", "u3", "u2", "u1", "ry", "rz", "rx", "p", "r", "unitary")


def _rotation_gates(qc) -> list:
    """Decompose until only single-qubit rotations/unitaries and 2-qubit gates remain; return the ops."""
    d = qc
    for _ in range(12):
        names = {inst.operation.name for inst in d.data}
        if names <= set(_ONE_QUBIT_ROTATIONS) | {"cx", "cz", "x", "h", "sx", "global_phase", "barrier"}:
            break
        d = d.decompose()
    return list(d.data)


def _matrix(op) -> np.ndarray | None:
    try:
        return np.asarray(op.to_matrix())
    except Exception:  # a gate without a matrix (never a rotation here)
        return None


@functools.lru_cache(maxsize=16)
def amplitude_encoding_rotations(n_qubits: int, seed: int = 0) -> int:
    """Data-dependent single-qubit rotations in qiskit's ``StatePreparation`` of a generic real 2^n vector."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation

    rng = np.random.default_rng(seed)
    vec = rng.normal(size=2 ** n_qubits)
    vec[np.abs(vec) < 0.1] = 0.1  # bounded away from 0 so the perturbation below keeps every sign
    nudged = vec * (1.0 + 0.05 * rng.uniform(0.2, 1.0, size=vec.shape))

    def ops(v):
        qc = QuantumCircuit(n_qubits)
        qc.append(StatePreparation(v / np.linalg.norm(v)), range(n_qubits))
        return _rotation_gates(qc)

    a, b = ops(vec), ops(nudged)
    if [i.operation.name for i in a] != [i.operation.name for i in b]:
        raise RuntimeError("StatePreparation's structure changed under a sign-preserving perturbation")
    count = 0
    for x, y in zip(a, b):
        if x.operation.num_qubits != 1 or x.operation.name not in _ONE_QUBIT_ROTATIONS:
            continue
        mx, my = _matrix(x.operation), _matrix(y.operation)
        if mx is not None and my is not None and not np.allclose(mx, my, rtol=0.0, atol=1e-12):
            count += 1
    return count


def encoding_parameters(genome) -> int:
    """Data-dependent angles of the genome's encoding circuit (see the module doc)."""
    if genome.encoding == "amplitude":
        return amplitude_encoding_rotations(genome.n_qubits)
    from .hqnn import build_circuit

    return sum(1 for p in build_circuit(genome).parameters if p.vector.name == "x")


def shift_terms(model, n_features: int) -> dict[str, Any]:
    """Read off the model's own autograd graph which circuit parameters receive a gradient: the quantum
    weights with ``requires_grad``, and the encoding angles when the input the quantum layer receives
    requires a gradient (a trained pre-layer). Returns the counts and N_eval."""
    import torch

    captured = {}
    hook = model.quantum.register_forward_pre_hook(lambda _m, args: captured.__setitem__("input", args[0]))
    try:
        with torch.enable_grad():
            model(torch.zeros(1, n_features))
    finally:
        hook.remove()
    weights = sum(p.numel() for p in model.quantum.parameters() if p.requires_grad)
    input_needs_grad = bool(captured["input"].requires_grad)
    data = encoding_parameters(model.genome) if input_needs_grad else 0
    return {"shift_weights": weights, "shift_data_params": data, "input_needs_grad": input_needs_grad,
            "n_eval": 1 + 2 * (weights + data)}
