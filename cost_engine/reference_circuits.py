"""The reference circuit suite (GHZ, QFT, quantum volume, EfficientSU2, an HQNN ansatz) and a set of small
circuits with a known ideal outcome for validating predicted success against noisy simulation."""
from __future__ import annotations

import math

import numpy as np

FAMILIES = ("ghz", "qft", "qv", "esu2", "hqnn")


def ghz(n: int):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n, name=f"ghz_{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure_all()
    return qc


def qft(n: int):
    from qiskit.synthesis import synth_qft_full

    qc = synth_qft_full(n)
    qc.name = f"qft_{n}"
    qc.measure_all()
    return qc


def quantum_volume(n: int, seed: int = 7):
    from qiskit.circuit.library import quantum_volume as qv

    qc = qv(n, seed=seed).decompose()
    qc.name = f"qv_{n}"
    qc.measure_all()
    return qc


def efficient_su2(n: int, reps: int = 2, seed: int = 7):
    from qiskit.circuit.library import efficient_su2 as esu2

    qc = esu2(n, reps=reps)
    qc = qc.assign_parameters(np.random.default_rng(seed).uniform(0, 2 * math.pi, qc.num_parameters))
    qc.name = f"esu2_{n}"
    qc.measure_all()
    return qc


def hqnn_ansatz(n: int, layers: int = 2, seed: int = 7):
    """Angle-encoded data (RY), then ``layers`` of RY-RZ rotations and a CX ring: the HQNN shape the search
    explores, with generic bound angles."""
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(n, name=f"hqnn_{n}")
    for q in range(n):
        qc.ry(float(rng.uniform(0, math.pi)), q)
    for _ in range(layers):
        for q in range(n):
            qc.ry(float(rng.uniform(0, 2 * math.pi)), q)
            qc.rz(float(rng.uniform(0, 2 * math.pi)), q)
        for q in range(n - 1):
            qc.cx(q, q + 1)
        if n > 2:
            qc.cx(n - 1, 0)
    qc.measure_all()
    return qc


BUILDERS = {"ghz": ghz, "qft": qft, "qv": quantum_volume, "esu2": efficient_su2, "hqnn": hqnn_ansatz}


def reference_suite(sizes=(4, 8, 12, 16), families=FAMILIES) -> list[tuple[str, object]]:
    """[(name, circuit)] for every family at every size, deterministic."""
    out = []
    for family in families:
        for n in sizes:
            qc = BUILDERS[family](n)
            out.append((f"{family}_{n}", qc))
    return out


def mirror_circuit(n: int, layers: int, seed: int, entangle_stride: int = 1):
    """Random layer(s) U followed by U^-1 and measurement: the ideal outcome is all zeros, so the measured
    success is the fraction of shots reading 0...0."""
    from qiskit import QuantumCircuit

    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(n)
    for _ in range(layers):
        for q in range(n):
            qc.u(*rng.uniform(0, math.pi, 3), q)
        for q in range(0, n - 1, entangle_stride):
            qc.cx(q, q + 1)
    full = qc.compose(qc.inverse())
    full.name = f"mirror_{n}q_{layers}l_s{seed}"
    full.measure_all()
    return full


def small_circuits(count: int = 24, seed: int = 0) -> list:
    """``count`` varied 2- to 5-qubit circuits with the all-zeros ideal outcome (mirror circuits of 1 to 6
    layers, dense and sparse entanglement)."""
    out = []
    for i in range(count):
        n = 2 + i % 4
        layers = 1 + (i * 7 + seed) % 6
        out.append(mirror_circuit(n, layers, seed=seed * 1000 + i, entangle_stride=1 + (i // 4) % 2))
    return out
