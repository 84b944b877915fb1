"""Batched statevector simulation in torch (complex64) with autograd through every rotation angle.

Amplitude index = sum_i b_i 2^i: qubit 0 is the least significant bit, as in qiskit, so states compare
directly with ``qiskit.quantum_info.Statevector``. A state is a (batch, 2^n) tensor; a single-qubit gate on
qubit q is a contraction over the middle axis of its (batch, 2^(n-1-q), 2, 2^q) view; entanglers are
precomputed permutations (CX) and sign vectors (CZ), so a whole entangler layer costs one gather.
"""
from __future__ import annotations

import functools
import math

import torch

CDTYPE = torch.complex64


def zero_state(n: int, batch: int) -> torch.Tensor:
    psi = torch.zeros(batch, 2 ** n, dtype=CDTYPE)
    psi[:, 0] = 1.0
    return psi


def product_state(qubit_states: list[torch.Tensor]) -> torch.Tensor:
    """Tensor product of per-qubit states [(batch, 2)] in qubit order 0..n-1 -> (batch, 2^n)."""
    psi = qubit_states[0]
    for v in qubit_states[1:]:
        # new qubit is more significant: index = b_new * 2^k + old
        psi = (v.unsqueeze(2) * psi.unsqueeze(1)).reshape(psi.shape[0], -1)
    return psi


_GENERATORS = {  # -i P for the Pauli P of each rotation: R_P(theta) = cos(theta/2) I + sin(theta/2) (-i P)
    "rx": torch.tensor([[0, -1j], [-1j, 0]], dtype=CDTYPE),
    "ry": torch.tensor([[0, -1], [1, 0]], dtype=CDTYPE),
    "rz": torch.tensor([[-1j, 0], [0, 1j]], dtype=CDTYPE),
}
_EYE = torch.eye(2, dtype=CDTYPE)


def rotation_matrix(kind: str, theta: torch.Tensor) -> torch.Tensor:
    """RX/RY/RZ matrices for angles of any shape (..., ) -> (..., 2, 2) complex64."""
    if kind not in _GENERATORS:
        raise ValueError(f"unknown rotation {kind!r}")
    half = (theta.to(torch.float32) / 2).unsqueeze(-1).unsqueeze(-1)
    return torch.cos(half) * _EYE + torch.sin(half) * _GENERATORS[kind]


def apply_1q(psi: torch.Tensor, n: int, q: int, u: torch.Tensor) -> torch.Tensor:
    """Apply a 2x2 gate (shared (2, 2) or per sample (batch, 2, 2)) on qubit q."""
    b = psi.shape[0]
    view = psi.reshape(b, 2 ** (n - 1 - q), 2, 2 ** q)
    if u.dim() == 3:  # per-sample gate: broadcast over the high-qubit axis
        u = u.unsqueeze(1)
    return torch.matmul(u, view).reshape(b, 2 ** n)


def apply_rotation_layer(psi: torch.Tensor, n: int, kinds, angles: torch.Tensor) -> torch.Tensor:
    """Rotations ``kinds`` (applied in order) on every qubit; ``angles`` (len(kinds), n). The rotations of one
    qubit are fused into one 2x2 matrix first, so a layer costs n contractions."""
    if isinstance(kinds, str):
        kinds, angles = (kinds,), angles.unsqueeze(0)
    fused = _fused(kinds, angles)
    for q in range(n):
        psi = apply_1q(psi, n, q, fused[q])
    return psi


def _fused(kinds, angles: torch.Tensor) -> torch.Tensor:
    """(n, 2, 2): the rotations ``kinds`` (applied in order) of every qubit multiplied into one matrix."""
    fused = None
    for k, kind in enumerate(kinds):
        m = rotation_matrix(kind, angles[k])
        fused = m if fused is None else torch.matmul(m, fused)
    return fused


def _kron(mats: list[torch.Tensor]) -> torch.Tensor:
    out = mats[0]
    for m in mats[1:]:
        out = torch.kron(out, m)
    return out


def apply_layer(psi: torch.Tensor, n: int, kinds, angles: torch.Tensor, pairs, gate: str) -> torch.Tensor:
    """One variational layer: rotations on every qubit, then the entangler. The 2^n state of each sample is
    viewed as a 2^hi x 2^lo matrix (hi = the upper half of the qubits); the layer's rotations are the Kronecker
    products A (upper qubits) and B (lower qubits), applied as A @ psi @ B^T: two batched matmuls of at most
    64 x 64 (12 qubits) instead of n tiny contractions."""
    fused = _fused(kinds, angles)
    lo = n // 2
    hi = n - lo
    a = _kron([fused[q] for q in range(n - 1, lo - 1, -1)])  # most significant qubit first
    b = _kron([fused[q] for q in range(lo - 1, -1, -1)]) if lo else None
    view = psi.reshape(psi.shape[0], 2 ** hi, 2 ** lo)
    view = torch.matmul(a, view)
    if b is not None:
        view = torch.matmul(view, b.transpose(0, 1))
    return apply_entangler(view.reshape(psi.shape[0], 2 ** n), n, tuple(pairs), gate)


@functools.lru_cache(maxsize=256)
def _bits(n: int) -> torch.Tensor:
    idx = torch.arange(2 ** n)
    return torch.stack([(idx >> q) & 1 for q in range(n)], 1)  # (2^n, n)


@functools.lru_cache(maxsize=256)
def entangler_layer(n: int, pairs: tuple[tuple[int, int], ...], gate: str):
    """(permutation or None, sign vector or None) equal to applying the gates of ``pairs`` in order."""
    if not pairs:
        return None, None
    bits = _bits(n)
    if gate == "cz":
        parity = torch.zeros(2 ** n, dtype=torch.long)
        for a, b in pairs:
            parity ^= bits[:, a] & bits[:, b]
        return None, (1 - 2 * parity).to(CDTYPE)
    # CX(c, t): new[i] = old[i ^ (b_c(i) << t)]; compose in order
    perm = torch.arange(2 ** n)
    for c, t in pairs:
        idx = torch.arange(2 ** n)
        src = idx ^ (((idx >> c) & 1) << t)
        perm = perm[src]
    return perm, None


def apply_entangler(psi: torch.Tensor, n: int, pairs: tuple[tuple[int, int], ...], gate: str) -> torch.Tensor:
    perm, sign = entangler_layer(n, tuple(pairs), gate)
    if perm is not None:
        return torch.index_select(psi, 1, perm)
    if sign is not None:
        return psi * sign
    return psi


@functools.lru_cache(maxsize=256)
def _z_signs(n: int) -> torch.Tensor:
    return (1 - 2 * _bits(n)).to(torch.float32)  # (2^n, n): <Z_q> sign per basis state


def expval_z(psi: torch.Tensor, n: int) -> torch.Tensor:
    """<Z_q> for every qubit: (batch, n) float32."""
    probs = psi.real ** 2 + psi.imag ** 2
    return probs @ _z_signs(n)


def encode(kind: str, x: torch.Tensor, n: int) -> torch.Tensor:
    """Data encoding. angle_x/angle_y: RX/RY(x_i) on |0>; angle_z: H then RZ(x_i); amplitude: x normalised
    to a 2^n state (zero vector -> |0...0>)."""
    if kind == "amplitude":
        v = x.to(torch.float32)
        norm = torch.linalg.vector_norm(v, dim=1, keepdim=True)
        safe = torch.where(norm > 1e-12, norm, torch.ones_like(norm))
        v = torch.where(norm > 1e-12, v / safe, torch.nn.functional.one_hot(
            torch.zeros(v.shape[0], dtype=torch.long), v.shape[1]).to(v.dtype))
        return torch.complex(v, torch.zeros_like(v))
    half = x.to(torch.float32) / 2
    c, s = torch.cos(half), torch.sin(half)
    if kind == "angle_y":  # RY(x)|0> = (cos, sin): real, so the product is built in float32
        per_qubit = torch.stack([c, s], -1)
    elif kind == "angle_x":  # RX(x)|0> = (cos, -i sin)
        per_qubit = torch.complex(torch.stack([c, torch.zeros_like(c)], -1), torch.stack([torch.zeros_like(s), -s], -1))
    elif kind == "angle_z":  # RZ(x) H|0> = (e^{-ix/2}, e^{ix/2}) / sqrt 2
        r = 1 / math.sqrt(2)
        per_qubit = torch.complex(torch.stack([c, c], -1) * r, torch.stack([-s, s], -1) * r)
    else:
        raise ValueError(f"unknown encoding {kind!r}")
    psi = product_state(list(per_qubit.unbind(1)))
    return psi if psi.is_complex() else psi.to(CDTYPE)
