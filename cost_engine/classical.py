"""Classical cost (COST_MODEL.md section C): the candidate's classical training step (pre-layer, head, the
chain rule through the circuit's parameter-shift Jacobians, Adam), either timed on this machine (``local``) or
priced on a named device profile as FLOPs / (efficiency x peak FLOP/s) + tensor operations x a per-operation
latency floor (kernel launch / framework overhead). FLOPs are counted by ``FlopCounterMode``."""
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
    op_latency_s: float = 0.0  # fixed cost of every tensor operation a step runs (launch / framework overhead)
    latency_source: str = ""
    measured: bool = False  # True: seconds come from timing the candidate's step on this machine


# Per-operation latency floors. A training step through HQNN-sized layers (tens of units, batch <= 32) runs
# ~100 tensor operations that each finish in well under a microsecond of arithmetic, so their fixed cost, not
# FLOPs, sets the time. Sources:
# - GPU: a CUDA kernel launch costs 4-6 us from the host (measured in "pegainfer (3): From Launch Overhead to
#   CUDA Graph", susun-blog.com, RTX 5070 Ti, CUDA 13; NVIDIA's "Getting Started with CUDA Graphs" blog makes
#   the same point: for short kernels, launch overhead is a first-order cost). Eager PyTorch launches one or
#   more kernels per operator: 5 us per operation.
# - CPU: PyTorch's operator micro-benchmarks time a tiny eager op (split of an 8x8 tensor) at 2.3-3.4 us of
#   framework dispatch (pytorch/pytorch PR #32194's benchmark output); on a server core the arithmetic of our
#   tiny ops adds little: 3 us per operation.
GPU_OP_LATENCY_S = 5e-6
CPU_OP_LATENCY_S = 3e-6
_GPU_LATENCY_SOURCE = ("CUDA kernel launch 4-6 us per kernel (susun-blog.com 'pegainfer (3)'; NVIDIA 'Getting Started "
                       "with CUDA Graphs'): 5 us per eager operation")
_CPU_LATENCY_SOURCE = ("PyTorch operator micro-benchmark: 2.3-3.4 us per tiny eager op (pytorch/pytorch PR #32194): "
                       "3 us per operation")

# Peak FP32 figures from vendor datasheets; the efficiencies are our assumption for the small, latency-bound
# dense layers of HQNNs, stated so users can override them.
PROFILES: dict[str, DeviceProfile] = {
    # NVIDIA A100 Tensor Core GPU datasheet (2021): 19.5 TFLOP/s FP32 (non-tensor), SXM4.
    "nvidia-a100-sxm4": DeviceProfile("nvidia-a100-sxm4", 19.5e12, 0.30,
                                      "NVIDIA A100 datasheet: 19.5 TFLOP/s FP32; efficiency 0.30 assumed",
                                      GPU_OP_LATENCY_S, _GPU_LATENCY_SOURCE),
    # NVIDIA H100 Tensor Core GPU datasheet (2023): 67 TFLOP/s FP32, SXM5.
    "nvidia-h100-sxm5": DeviceProfile("nvidia-h100-sxm5", 67e12, 0.30,
                                      "NVIDIA H100 datasheet: 67 TFLOP/s FP32 (SXM); efficiency 0.30 assumed",
                                      GPU_OP_LATENCY_S, _GPU_LATENCY_SOURCE),
    # AMD EPYC 9654 (Zen 4): 96 cores x 2.4 GHz base x 32 FP32 FLOP/cycle (two 256-bit FMA pipes; AVX-512 is
    # executed double-pumped) = 7.37 TFLOP/s; AMD product page for core count and base clock.
    "amd-epyc-9654": DeviceProfile("amd-epyc-9654", 96 * 2.4e9 * 32, 0.20,
                                   "AMD EPYC 9654: 96 cores, 2.4 GHz base, 32 FP32 FLOP/cycle; efficiency 0.20 assumed",
                                   CPU_OP_LATENCY_S, _CPU_LATENCY_SOURCE),
    # Intel Xeon Platinum 8480+: 56 cores x 2.0 GHz base x 64 FP32 FLOP/cycle (two AVX-512 FMA units).
    "intel-xeon-8480plus": DeviceProfile("intel-xeon-8480plus", 56 * 2.0e9 * 64, 0.20,
                                         "Intel Xeon Platinum 8480+: 56 cores, 2.0 GHz, 2x AVX-512 FMA; "
                                         "efficiency 0.20 assumed", CPU_OP_LATENCY_S, _CPU_LATENCY_SOURCE),
}
LOCAL = "local"
LOCAL_PROFILE = DeviceProfile(LOCAL, 0.0, 1.0, "measured: the candidate's own classical training step, timed on "
                              "this machine (torch, current thread settings) after warm-up", measured=True)


def get_profile_spec(name: str) -> str:
    """Validate a profile name without measuring anything."""
    if name != LOCAL and name not in PROFILES:
        raise ConfigError(f"unknown device profile {name!r}; known: {sorted(PROFILES) + [LOCAL]}",
                          field="device_profile")
    return name


def get_profile(name: str) -> DeviceProfile:
    get_profile_spec(name)
    return LOCAL_PROFILE if name == LOCAL else PROFILES[name]


def flops_to_seconds(flops: float, profile: DeviceProfile) -> float:
    """The throughput part of a named profile: FLOPs / (efficiency x peak). Not defined for ``local``."""
    return flops / (profile.efficiency * profile.peak_flops)


# ------------------------------------------------------------------ the candidate's classical training step
def classical_step(model, n_features: int, batch: int, seed: int = 0):
    """A callable that runs one optimiser step of the classical work of training ``model`` on a QPU, for a
    batch of ``batch`` samples. The circuit's outputs and its parameter-shift Jacobians come from the QPU; here
    they are fixed random tensors of the right shapes. The step: pre-layer forward (and the encoding's tanh);
    head forward and backward from the circuit's <Z_i>; the chain rule through the circuit (dL/d inputs and
    dL/d weights from the shift Jacobians, a batched matrix product); pre-layer backward when it is trained;
    one Adam step over every trainable parameter (classical and quantum weights). Runs on a private copy
    of the model."""
    import copy

    import torch

    model = copy.deepcopy(model)
    g = model.genome
    gen = torch.Generator().manual_seed(seed)
    n_classes = (model.head[-1] if isinstance(model.head, torch.nn.Sequential) else model.head).out_features
    x = torch.randn(batch, n_features, generator=gen)
    y = torch.randint(0, n_classes, (batch,), generator=gen)
    q = torch.rand(batch, g.n_qubits, generator=gen) * 2 - 1
    weights = model.quantum.weights
    jac_w = torch.randn(batch, g.n_qubits, weights.numel(), generator=gen) if weights.requires_grad else None
    jac_in = torch.randn(batch, g.n_qubits, g.encoder_width, generator=gen)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3) if params else None
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        if opt is not None:
            opt.zero_grad(set_to_none=True)
        z = model.encode_input(x)
        qv = q.detach().requires_grad_(True)
        loss_fn(model.head(qv), y).backward()
        g_out = qv.grad.unsqueeze(1)  # (batch, 1, n_qubits)
        if z.requires_grad:
            z.backward(torch.bmm(g_out, jac_in).squeeze(1))
        if jac_w is not None:
            weights.grad = torch.bmm(g_out, jac_w).sum(0).reshape(weights.shape)
        if opt is not None:
            opt.step()

    return step


def count_step(step) -> tuple[float, int]:
    """(FLOPs, tensor operations) of one call of ``step``: FLOPs by ``FlopCounterMode``, operations as the
    ATen operator calls the step dispatches (what eager PyTorch launches one by one). Counted on a warm
    step (Adam initialises its state on the first)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    class _OpCounter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.n += 1
            return func(*args, **(kwargs or {}))

    step()
    flops = FlopCounterMode(display=False)
    with flops:
        step()
    ops = _OpCounter()
    with ops:
        step()
    return float(flops.get_total_flops()), ops.n


def time_step(step, warmup: int = 3, blocks: int = 7, min_block_s: float = 0.02) -> float:
    """Median seconds per call of ``step`` over ``blocks`` timed blocks, each long enough (``min_block_s``)
    for the clock, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    step()
    once = max(time.perf_counter() - started, 1e-7)
    per_block = max(1, int(min_block_s / once))
    samples = []
    for _ in range(blocks):
        started = time.perf_counter()
        for _ in range(per_block):
            step()
        samples.append((time.perf_counter() - started) / per_block)
    samples.sort()
    return samples[len(samples) // 2]


def classical_cost(model, n_features: int, n_train: int, epochs: int, batch_size: int,
                   profile: DeviceProfile) -> dict:
    """C_C of training ``model`` for ``epochs`` over ``n_train`` samples in optimiser steps of ``batch_size``
    (the last step of an epoch takes the remainder). Per step: measured for ``local`` (the training batch and
    a batch of one timed; a remainder batch interpolated linearly between them); for a named profile
    FLOPs / (efficiency x peak) + operations x the profile's per-operation latency."""
    batch = max(1, min(batch_size, n_train))
    full, rest = divmod(n_train, batch)
    shapes = {batch, 1} | ({rest} if rest else set())
    counted = {b: count_step(classical_step(model, n_features, b)) for b in shapes}
    if profile.measured:
        t_b = time_step(classical_step(model, n_features, batch))
        t_1 = t_b if batch == 1 else time_step(classical_step(model, n_features, 1))

        def seconds(b):
            return t_b if b == batch else t_1 + (t_b - t_1) * (b - 1) / max(batch - 1, 1)
    else:
        def seconds(b):
            flops, ops = counted[b]
            return flops_to_seconds(flops, profile) + ops * profile.op_latency_s
    steps = epochs * (full + (1 if rest else 0))
    c_c = epochs * (full * seconds(batch) + (seconds(rest) if rest else 0.0))
    flops_b, ops_b = counted[batch]
    return {"c_c_s": c_c, "optimizer_steps": steps, "train_batch": batch, "c_c_step_s": seconds(batch),
            "c_c_step_batch1_s": seconds(1), "classical_flops_per_step": flops_b, "classical_ops_per_step": ops_b,
            "classical_flops_per_sample": flops_b / batch,
            "classical_flops_total": epochs * (full * flops_b + (counted[rest][0] if rest else 0.0)),
            "c_c_method": "measured step" if profile.measured else "FLOPs/(efficiency x peak) + ops x op latency"}


def classical_flops_per_sample(model, n_features: int, batch: int = 16) -> float:
    """FLOPs of the classical work of one optimiser step (see :func:`classical_step`), per sample."""
    return count_step(classical_step(model, n_features, batch))[0] / batch


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
