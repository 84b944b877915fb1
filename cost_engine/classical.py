"""Classical cost (COST_MODEL.md section C): FLOPs of the classical layers counted by
``torch.utils.flop_counter.FlopCounterMode`` (forward and backward, per sample), turned into seconds on a
named device profile: seconds = FLOPs / (efficiency x peak FLOP/s)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    peak_flops: float  # FP32 FLOP/s
    efficiency: float  # achieved fraction of peak for small dense layers
    source: str


# Peak FP32 figures from vendor datasheets; the efficiencies are our assumption for the small, latency-bound
# dense layers of HQNNs (batch of one sample per circuit binding), stated so users can override them.
PROFILES: dict[str, DeviceProfile] = {
    # NVIDIA A100 Tensor Core GPU datasheet (2021): 19.5 TFLOP/s FP32 (non-tensor), SXM4.
    "nvidia-a100-sxm4": DeviceProfile("nvidia-a100-sxm4", 19.5e12, 0.30,
                                      "NVIDIA A100 datasheet: 19.5 TFLOP/s FP32; efficiency 0.30 assumed"),
    # NVIDIA H100 Tensor Core GPU datasheet (2023): 67 TFLOP/s FP32, SXM5.
    "nvidia-h100-sxm5": DeviceProfile("nvidia-h100-sxm5", 67e12, 0.30,
                                      "NVIDIA H100 datasheet: 67 TFLOP/s FP32 (SXM); efficiency 0.30 assumed"),
    # AMD EPYC 9654 (Zen 4): 96 cores x 2.4 GHz base x 32 FP32 FLOP/cycle (two 256-bit FMA pipes; AVX-512 is
    # executed double-pumped) = 7.37 TFLOP/s; AMD product page for core count and base clock.
    "amd-epyc-9654": DeviceProfile("amd-epyc-9654", 96 * 2.4e9 * 32, 0.20,
                                   "AMD EPYC 9654: 96 cores, 2.4 GHz base, 32 FP32 FLOP/cycle; efficiency 0.20 assumed"),
    # Intel Xeon Platinum 8480+: 56 cores x 2.0 GHz base x 64 FP32 FLOP/cycle (two AVX-512 FMA units).
    "intel-xeon-8480plus": DeviceProfile("intel-xeon-8480plus", 56 * 2.0e9 * 64, 0.20,
                                         "Intel Xeon Platinum 8480+: 56 cores, 2.0 GHz, 2x AVX-512 FMA; "
                                         "efficiency 0.20 assumed"),
}
LOCAL = "local"
_LOCAL_CACHE: dict[str, DeviceProfile] = {}


def measure_local_profile(seconds: float = 0.3, size: int = 256) -> DeviceProfile:
    """A short FP32 matmul microbenchmark on this machine (torch, current thread settings). Peak = the
    measured rate, efficiency 1.0: small-layer throughput measured directly rather than assumed."""
    import torch

    a = torch.randn(size, size)
    b = torch.randn(size, size)
    for _ in range(3):
        a @ b
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        n += 1
    rate = n * 2 * size ** 3 / (time.perf_counter() - started)
    return DeviceProfile("local", rate, 1.0, f"measured: {n} FP32 {size}x{size} matmuls in {seconds:.1f} s")


def get_profile_spec(name: str) -> str:
    """Validate a profile name without measuring anything."""
    if name != LOCAL and name not in PROFILES:
        raise ConfigError(f"unknown device profile {name!r}; known: {sorted(PROFILES) + [LOCAL]}",
                          field="device_profile")
    return name


def get_profile(name: str) -> DeviceProfile:
    get_profile_spec(name)
    if name == LOCAL:
        if LOCAL not in _LOCAL_CACHE:
            _LOCAL_CACHE[LOCAL] = measure_local_profile()
        return _LOCAL_CACHE[LOCAL]
    return PROFILES[name]


def flops_to_seconds(flops: float, profile: DeviceProfile) -> float:
    return flops / (profile.efficiency * profile.peak_flops)


def classical_flops_per_sample(model, n_features: int, batch: int = 16) -> float:
    """FLOPs of the classical layers (pre-layers and head) for one sample, forward plus backward, counted
    by FlopCounterMode on a batch and divided by its size."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, n_features)
    z = torch.randn(batch, model.genome.n_qubits, requires_grad=True)
    counter = FlopCounterMode(display=False)
    with counter:
        enc = model.pre(x)
        enc.sum().backward()
        out = model.head(z)
        out.sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def simulation_flops_per_sample(genome) -> float:
    """Real FLOPs to simulate the quantum layer as a statevector for one sample, forward and backward (the
    "FLOPs view" of quantum cost the paper argues against). Per gate on a 2^n state: a dense 2x2 gate costs
    2^n x (2 complex multiply-adds = 14 real FLOPs); a CZ costs 2^n sign flips (counted 1 FLOP each); a CX is
    a permutation (0 FLOPs); encoding a product state costs 6 x 2^n; reading <Z_i> costs 3 x 2^n for
    probabilities plus n x 2^n. Backward by reverse-mode autodiff is counted as 2x forward."""
    n = genome.n_qubits
    dim = 2 ** n
    forward = 6 * dim
    gates_1q = genome.n_layers * n  # fused rotations: one dense 2x2 per qubit per layer
    forward += gates_1q * 14 * dim
    if genome.entangler_gate == "cz":
        forward += genome.n_layers * len(genome.entangler_pairs()) * dim
    forward += 3 * dim + n * dim
    return float(3 * forward)
