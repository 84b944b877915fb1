"""HQNN models built from a genome: torch (for training) and the equivalent qiskit circuit (for costing)."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import simulator as sim
from .genome import Genome


class QuantumLayer(nn.Module):
    """Encoder, then n_layers x (each rotation kind on every qubit with its own weight, then the entangler),
    read out as <Z_i> per qubit."""

    def __init__(self, genome: Genome):
        super().__init__()
        self.genome = genome
        g = genome
        self.weights = nn.Parameter(torch.empty(g.n_layers, len(g.rotations), g.n_qubits).uniform_(0, 2 * math.pi))
        self.pairs = tuple(g.entangler_pairs())

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        g = self.genome
        w = self.weights if weights is None else weights
        psi = sim.encode(g.encoding, x, g.n_qubits)
        for layer in range(g.n_layers):
            psi = sim.apply_layer(psi, g.n_qubits, g.rotations, w[layer], self.pairs, g.entangler_gate)
        return sim.expval_z(psi, g.n_qubits)


class HQNN(nn.Module):
    def __init__(self, genome: Genome, n_features: int, n_classes: int):
        super().__init__()
        genome.validate()
        self.genome = genome
        layers: list[nn.Module] = []
        width = n_features
        for w in genome.pre_widths:
            layers += [nn.Linear(width, w), nn.ReLU()]
            width = w
        layers.append(nn.Linear(width, genome.encoder_width))
        self.pre = nn.Sequential(*layers)
        if genome.freeze_pre:  # a fixed (seeded random) feature map: no gradient reaches it
            self.pre.requires_grad_(False)
        self.quantum = QuantumLayer(genome)
        if genome.head == "mlp":
            self.head = nn.Sequential(nn.Linear(genome.n_qubits, 16), nn.ReLU(), nn.Linear(16, n_classes))
        else:
            self.head = nn.Linear(genome.n_qubits, n_classes)

    def encode_input(self, x: torch.Tensor) -> torch.Tensor:
        z = self.pre(x)
        return z if self.genome.encoding == "amplitude" else torch.tanh(z) * math.pi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.quantum(self.encode_input(x)))

    def param_counts(self) -> dict[str, int]:
        q = sum(p.numel() for p in self.quantum.parameters() if p.requires_grad)
        c = sum(p.numel() for m in (self.pre, self.head) for p in m.parameters() if p.requires_grad)
        return {"classical": c, "quantum": q, "total": c + q}


def build_model(genome: Genome, n_features: int, n_classes: int, seed: int | None = None) -> HQNN:
    if seed is not None:
        torch.manual_seed(seed)
    return HQNN(genome, n_features, n_classes)


def build_circuit(genome: Genome, amplitudes: np.ndarray | None = None, seed: int = 0):
    """The quantum layer as a qiskit circuit: ParameterVector ``x`` for angle inputs, ``w`` for weights
    (ordered layer, rotation kind, qubit like the torch layer), measurement of every qubit. Amplitude encoding
    takes concrete amplitudes (StatePreparation cannot take parameters): given ones, or a seeded generic
    vector so that costing sees a generic state preparation."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector
    from qiskit.circuit.library import StatePreparation

    genome.validate()
    n = genome.n_qubits
    qc = QuantumCircuit(n, name=f"hqnn_{genome.key()}")
    if genome.encoding == "amplitude":
        vec = (np.asarray(amplitudes, dtype=float) if amplitudes is not None
               else np.random.default_rng(seed).normal(size=2 ** n))
        norm = np.linalg.norm(vec)
        vec = vec / norm if norm > 1e-12 else np.eye(2 ** n)[0]
        qc.append(StatePreparation(vec), range(n))
    else:
        x = ParameterVector("x", n)
        for i in range(n):
            if genome.encoding == "angle_y":
                qc.ry(x[i], i)
            elif genome.encoding == "angle_x":
                qc.rx(x[i], i)
            else:
                qc.h(i)
                qc.rz(x[i], i)
    w = ParameterVector("w", genome.n_quantum_params)
    k = 0
    for _layer in range(genome.n_layers):
        for kind in genome.rotations:
            for q in range(n):
                getattr(qc, kind)(w[k], q)
                k += 1
        for a, b in genome.entangler_pairs():
            getattr(qc, genome.entangler_gate)(a, b)
    qc.measure_all()
    return qc


def bind_circuit(genome: Genome, x: np.ndarray, weights: np.ndarray, measure: bool = False):
    """The circuit with inputs ``x`` (angles, or amplitudes) and flat weights bound (for validation)."""
    qc = build_circuit(genome, amplitudes=x if genome.encoding == "amplitude" else None)
    if not measure:
        qc.remove_final_measurements()
    values = {}
    for p in qc.parameters:
        vec, idx = p.vector.name, p.index
        values[p] = float(x[idx]) if vec == "x" else float(weights[idx])
    return qc.assign_parameters(values)
