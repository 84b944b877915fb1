"""Issue 14: what a hardware training run pays. N_eval from the model's autograd graph and the circuit, the frozen
pre-layer option, per-job overhead in C_Q, the measured local C_C, and the fixed per-dataset reference point."""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import pytest
import torch

from cost_engine.classical import LOCAL_PROFILE, PROFILES, classical_cost
from cost_engine.execution import DEFAULT_PROFILE, ExecutionProfile
from cost_engine.hqnn import Genome, SearchSpace, build_circuit, build_model, load_dataset, train
from cost_engine.training import training_cost

A100 = PROFILES["nvidia-a100-sxm4"]


@pytest.fixture(scope="module")
def torino():
    from cost_engine.calibration import load_fake_calibration

    return load_fake_calibration("torino")


def _report(genome, calibration, shots=256):
    from cost_engine.quantum import CostOptions, estimate_quantum_cost
    from cost_engine.search import candidate_circuit

    return estimate_quantum_cost(candidate_circuit(genome), calibration, CostOptions(shots=shots)).to_dict()


def _autograd_shift_count(model, n_features) -> tuple[int, bool]:
    """From the model's own autograd graph: the quantum weights that receive a (non-zero) gradient, and whether
    the input the circuit receives gets a gradient (then every data-dependent encoding angle needs shifts)."""
    seen = {}

    def hook(_module, args):
        if args[0].requires_grad:
            args[0].retain_grad()
        seen["input"] = args[0]

    handle = model.quantum.register_forward_pre_hook(hook)
    try:
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        model(torch.randn(8, n_features)).square().sum().backward()
    finally:
        handle.remove()
    weights = sum(p.numel() for p in model.quantum.parameters()
                  if p.grad is not None and bool(torch.all(p.grad != 0)))
    inp = seen["input"]
    return weights, inp.grad is not None and bool(inp.grad.abs().sum() > 0)


def _state_prep_rotations(n_qubits: int) -> int:
    """Single-qubit rotations in qiskit's StatePreparation of a generic real vector (its synthesis, decomposed)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation

    vec = np.random.default_rng(5).normal(size=2 ** n_qubits)
    qc = QuantumCircuit(n_qubits)
    qc.append(StatePreparation(vec / np.linalg.norm(vec)), range(n_qubits))
    qc = qc.decompose(reps=4)
    assert set(qc.count_ops()) <= {"u", "cx"}, qc.count_ops()
    return sum(1 for inst in qc.data if inst.operation.num_qubits == 1)


@pytest.mark.parametrize("genome, expected", [
    # 2 qubits, 2 layers of RY (4 weights) + 2 encoding angles fed by the trained pre-layer: 1 + 2 x 6
    (Genome(n_qubits=2, n_layers=2, encoding="angle_x", rotations=("ry",), entangler="linear", pre_widths=(16,)), 13),
    # 6 qubits, 1 layer of RY+RZ (12 weights) + 63 state-preparation rotations: 1 + 2 x 75
    (Genome(n_qubits=6, n_layers=1, encoding="amplitude", rotations=("ry", "rz"), pre_widths=(32,)), 151),
])
def test_n_eval_comes_from_the_autograd_graph_and_the_circuit(genome, expected, torino):
    model = build_model(genome, 16, 10, seed=0)
    weights, input_grad = _autograd_shift_count(model, 16)
    assert weights == model.param_counts()["quantum"] and input_grad
    if genome.encoding == "amplitude":
        data = _state_prep_rotations(genome.n_qubits)
        assert data == 2 ** genome.n_qubits - 1
    else:
        data = sum(1 for p in build_circuit(genome).parameters if p.vector.name == "x")
    assert 1 + 2 * (weights + data) == expected
    cost = training_cost(genome, n_train=40, epochs=1, shots=256, quantum_report=_report(genome, torino),
                         device_profile=A100, model=model)
    assert cost["n_eval"] == expected and cost["shift_data_params"] == data and cost["shift_weights"] == weights
    assert cost["circuit_executions"] == 40 * expected


def test_frozen_pre_layer_is_trained_frozen_and_costed_frozen(torino):
    space = SearchSpace.from_dict({"freeze_pre_layer": True, "max_qubits": 3}).validate()
    g = space.random_genome(np.random.default_rng(1))
    assert g.freeze_pre and g.to_dict()["freeze_pre"] is True
    assert Genome.from_dict(g.to_dict()) == g
    trained_key = Genome(n_qubits=3).key()
    assert "freeze_pre" not in Genome(n_qubits=3).to_dict()  # keys of trained-pre genomes unchanged
    frozen = Genome(n_qubits=3, n_layers=1, encoding="angle_y", rotations=("ry",), pre_widths=(8,), freeze_pre=True)
    trained = Genome(n_qubits=3, n_layers=1, encoding="angle_y", rotations=("ry",), pre_widths=(8,))
    assert frozen.key() != trained.key() and trained_key != frozen.key()

    data = load_dataset("iris", seed=0)
    before = copy.deepcopy(build_model(frozen, data.n_features, data.n_classes, seed=2).state_dict())
    _, model = train(frozen, data, epochs=2, batch_size=16, seed=2, return_model=True)
    after = model.state_dict()
    for name in before:
        if name.startswith("pre."):
            assert torch.equal(before[name], after[name]), name  # never updated
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("head."))
    weights, input_grad = _autograd_shift_count(model, data.n_features)
    assert weights == 3 and not input_grad

    report = _report(frozen, torino)
    c_frozen = training_cost(frozen, 90, 1, 256, report, A100, model=model)
    c_trained = training_cost(trained, 90, 1, 256, report, A100, n_features=data.n_features,
                              n_classes=data.n_classes)
    assert c_frozen["n_eval"] == 1 + 2 * 3 and c_frozen["shift_data_params"] == 0 and c_frozen["pre_layer_frozen"]
    assert c_trained["n_eval"] == 1 + 2 * (3 + 3)
    # trainable parameters: the head only (3 x 3 + 3); the pre-layer's 4 x 8 + 8 + 8 x 3 + 3 are not
    assert c_frozen["p_c"] == 12 and c_trained["p_c"] == 12 + 67
    # no backward through the pre-layer and no Adam state for it: fewer FLOPs and operations per step
    assert c_frozen["classical_flops_per_step"] < c_trained["classical_flops_per_step"]
    assert c_frozen["classical_ops_per_step"] < c_trained["classical_ops_per_step"]


def test_each_job_pays_the_execution_profiles_fixed_terms(torino):
    g = Genome(n_qubits=2, n_layers=2, encoding="angle_x", rotations=("ry",), entangler="linear", pre_widths=(16,))
    report = _report(g, torino)
    kw = dict(genome=g, n_train=100, epochs=3, shots=256, quantum_report=report, device_profile=A100,
              n_features=16, n_classes=10, batch_size=32)
    free = training_cost(**kw, execution_profile=ExecutionProfile(c_job_s=0.0))
    base = training_cost(**kw)  # the default profile: IBM's ~2 s per (sub-)job
    # N_eval 13; steps of 32, 32, 32, 4 samples: 416, 416, 416, 52 bindings -> 2, 2, 2, 1 jobs of <= 300
    assert base["jobs"] == 3 * 7 and base["optimizer_steps"] == 12
    assert base["execution_profile"]["c_job_s"] == DEFAULT_PROFILE.c_job_s == 2.0
    assert base["c_q_wallclock_s"] - free["c_q_wallclock_s"] == pytest.approx(21 * 2.0)
    assert base["c_q_job_overhead_s"] == pytest.approx(42.0)
    big = training_cost(**kw, max_circuits_per_job=10_000)
    assert big["jobs"] == 12  # one job per optimiser step when the device takes the whole batch
    custom = ExecutionProfile(name="fitted", c_job_s=5.0, c_circuit_s=0.01, c_instruction_s=1e-5)
    c = training_cost(**kw, execution_profile=custom)
    per_circuit = 0.01 + report["n_instructions"] * 1e-5 + report["shots_total"] * report["t_shot_s"]
    assert c["c_q_wallclock_s"] == pytest.approx(21 * 5.0 + 300 * 13 * per_circuit)
    assert c["c_q_paper_s"] == base["c_q_paper_s"]  # the paper's figure has no job term


def _measured_classical_epoch(model, data, batch_size: int) -> float:
    """Wall time of one epoch of the classical side of hardware training, run on the real data in its real
    batches: pre-layer (+ encoding), head from the circuit's <Z_i>, chain rule through the shift Jacobians,
    pre-layer backward, Adam. The circuit's outputs and Jacobians (QPU results) are drawn beforehand."""
    model = copy.deepcopy(model)
    g = model.genome
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    batches = []
    for start in range(0, len(x), batch_size):
        b = len(x[start:start + batch_size])
        batches.append((x[start:start + batch_size], y[start:start + batch_size], torch.rand(b, g.n_qubits) * 2 - 1,
                        torch.randn(b, g.n_qubits, g.encoder_width), torch.randn(b, g.n_qubits, g.n_quantum_params)))
    w = model.quantum.weights
    started = time.perf_counter()
    for xb, yb, q, j_in, j_w in batches:
        opt.zero_grad()
        z = model.encode_input(xb)
        qv = q.requires_grad_(True)
        loss_fn(model.head(qv), yb).backward()
        gq = qv.grad.unsqueeze(1)
        z.backward(torch.bmm(gq, j_in).squeeze(1))
        w.grad = torch.bmm(gq, j_w).sum(0).reshape(w.shape)
        opt.step()
        qv.grad = None
    return time.perf_counter() - started


def test_local_classical_cost_is_within_2x_of_a_measured_training_epoch():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # both sides in the same setting; one thread keeps a shared machine's noise down
    try:
        data = load_dataset("digits", seed=0)
        g = Genome(n_qubits=4, n_layers=2, encoding="angle_y", rotations=("ry", "rz"), pre_widths=(16,))
        model = build_model(g, data.n_features, data.n_classes, seed=0)
        n_train = len(data.y_train)  # 1077: 33 steps of 32 and one of 21
        _measured_classical_epoch(model, data, 32)  # warm-up
        # interleaved, median of five each: the machine is shared, and its load changes within seconds
        measured, predicted = [], []
        for _ in range(5):
            measured.append(_measured_classical_epoch(model, data, 32))
            predicted.append(classical_cost(model, data.n_features, n_train, 1, 32, LOCAL_PROFILE))
        assert predicted[0]["optimizer_steps"] == math.ceil(n_train / 32)
        ratio = float(np.median([p["c_c_s"] for p in predicted]) / np.median(measured))
        assert 0.5 <= ratio <= 2.0, ([p["c_c_s"] for p in predicted], measured)
        predicted, measured = predicted[0], float(np.median(measured))
        # the FLOPs-only pricing of the same steps on this CPU would be orders of magnitude lower
        assert predicted["classical_flops_total"] / 1e10 < 0.05 * measured
    finally:
        torch.set_num_threads(threads)


def test_named_profiles_add_a_per_operation_latency_floor():
    g = Genome(n_qubits=6, encoding="amplitude", pre_widths=(32,))
    model = build_model(g, 16, 10, seed=0)
    c = classical_cost(model, 16, 1000, 3, 32, A100)
    assert c["classical_ops_per_step"] > 50
    floor = c["classical_ops_per_step"] * A100.op_latency_s
    assert c["c_c_step_s"] == pytest.approx(floor + c["classical_flops_per_step"] / (0.3 * 19.5e12))
    assert c["c_c_step_s"] > 0.9 * floor  # latency-bound: the floor dominates the FLOPs term
    assert c["c_c_s"] == pytest.approx(3 * (31 * c["c_c_step_s"] + _step(model, 8)), rel=1e-6)


def _step(model, batch):
    from cost_engine.classical import classical_step, count_step

    flops, ops = count_step(classical_step(model, 16, batch))
    return flops / (0.3 * 19.5e12) + ops * A100.op_latency_s


def test_reference_point_is_fixed_per_dataset_and_makes_hypervolumes_comparable():
    from cost_engine.search import (SearchConfig, dataset_reference_point, hypervolume, objective_space,
                                    run_reference_point)

    a = SearchConfig.from_dict({"dataset": "iris", "seed": 1, "space": {"max_qubits": 3}})
    b = SearchConfig.from_dict({"dataset": "iris", "seed": 7, "space": {"max_qubits": 5, "max_layers": 2}})
    ref = dataset_reference_point("iris")
    assert run_reference_point(a, [[0.1, 3.0, 50.0]]) == run_reference_point(b, [[0.1, 9.0, 500.0]]) == ref
    assert dataset_reference_point("wine") != ref and objective_space("iris") != objective_space("wine")
    # two runs' fronts on the shared point: the dominating front has the larger hypervolume
    largest = SearchSpace().largest_genome()
    assert ref[2] == pytest.approx(1.1 * build_model(largest, 4, 3, seed=0).param_counts()["total"] + 1)
    for g in (largest, Genome(n_qubits=3, head="mlp", pre_widths=(8, 4), freeze_pre=True), Genome(encoding="amplitude")):
        assert g.trainable_params(16, 10) == build_model(g, 16, 10, seed=0).param_counts()["total"]
    front_a = np.array([[0.2, 4.0, 100.0], [0.4, 3.5, 60.0]])
    front_b = front_a + [0.05, 0.2, 10.0]
    assert hypervolume(front_a, ref) > hypervolume(front_b, ref) > 0
