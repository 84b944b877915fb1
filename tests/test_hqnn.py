"""HQNN building blocks: genome, torch simulator vs qiskit Statevector, parameter-shift gradients, FLOPs,
datasets, deterministic training and the unified training cost."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cost_engine.classical import (PROFILES, classical_flops_per_sample, flops_to_seconds, get_profile,
                                   simulation_flops_per_sample)
from cost_engine.errors import ConfigError
from cost_engine.hqnn import (Genome, QuantumLayer, SearchSpace, bind_circuit, build_circuit, build_model,
                              load_dataset, train)
from cost_engine.training import training_cost

ROOT = Path(__file__).resolve().parent.parent


def _qiskit_expvals(genome, x, weights):
    from qiskit.quantum_info import SparsePauliOp, Statevector

    if genome.encoding == "amplitude":
        x = x / np.linalg.norm(x)
    sv = Statevector(bind_circuit(genome, x, weights))
    n = genome.n_qubits
    return np.array([sv.expectation_value(SparsePauliOp("I" * (n - 1 - q) + "Z" + "I" * q)).real for q in range(n)])


def _random_genomes(count, seed, max_qubits=6):
    rng = np.random.default_rng(seed)
    space = SearchSpace(max_qubits=max_qubits, max_layers=3)
    return [space.random_genome(rng) for _ in range(count)]


@pytest.mark.smoke
def test_genome_validation_names_the_field():
    with pytest.raises(ConfigError) as err:
        Genome(n_qubits=13).validate()
    assert err.value.field == "n_qubits"
    with pytest.raises(ConfigError) as err:
        Genome(rotations=("ry", "ry")).validate()
    assert err.value.field == "rotations"
    with pytest.raises(ConfigError) as err:
        Genome.from_dict({"n_qubits": 3, "colour": "red"})
    assert err.value.field == "colour"
    with pytest.raises(ConfigError) as err:
        SearchSpace(min_qubits=5, max_qubits=3).validate()
    assert err.value.field == "min_qubits"


@pytest.mark.smoke
def test_encode_decode_round_trip_and_key():
    space = SearchSpace()
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = space.random_genome(rng)
        assert space.decode(space.encode(g)) == g
        assert Genome.from_dict(g.to_dict()) == g and Genome.from_dict(g.to_dict()).key() == g.key()
    assert Genome(n_qubits=3).key() != Genome(n_qubits=4).key()


def test_quantum_layer_matches_qiskit_statevector():
    rng = np.random.default_rng(1)
    genomes = _random_genomes(12, seed=2) + [Genome(n_qubits=5, encoding="amplitude", entangler="full",
                                                    entangler_gate="cz", rotations=("rx", "ry", "rz"))]
    for g in genomes:
        layer = QuantumLayer(g)
        x = rng.uniform(-3, 3, size=(3, g.encoder_width))
        out = layer(torch.tensor(x, dtype=torch.float32)).detach().numpy()
        w = layer.weights.detach().numpy().ravel()
        for b in range(3):
            assert np.allclose(out[b], _qiskit_expvals(g, x[b], w), atol=1e-5), g


def test_twelve_qubit_forward_matches_qiskit():
    g = Genome(n_qubits=12, n_layers=2, encoding="angle_x", rotations=("ry", "rz"), entangler="ring")
    layer = QuantumLayer(g)
    x = np.random.default_rng(3).uniform(-2, 2, size=(2, 12))
    out = layer(torch.tensor(x, dtype=torch.float32)).detach().numpy()
    assert np.allclose(out[0], _qiskit_expvals(g, x[0], layer.weights.detach().numpy().ravel()), atol=1e-5)


def test_gradients_match_parameter_shift_rule():
    """d<Z_q>/dw = (f(w + pi/2) - f(w - pi/2)) / 2 for every rotation weight (RX, RY, RZ generators)."""
    for g in _random_genomes(5, seed=4, max_qubits=4):
        layer = QuantumLayer(g)
        x = torch.tensor(np.random.default_rng(5).uniform(-2, 2, size=(1, g.encoder_width)), dtype=torch.float32)
        out = layer(x)[0]
        target = out.sum()  # gradient of sum_q <Z_q>
        (grad,) = torch.autograd.grad(target, layer.weights)
        w = layer.weights.detach().clone()
        shift = torch.zeros_like(w)
        flat = shift.view(-1)
        expected = torch.zeros(w.numel())
        with torch.no_grad():
            for i in range(w.numel()):
                flat.zero_()
                flat[i] = math.pi / 2
                plus = layer(x, weights=w + shift)[0].sum()
                minus = layer(x, weights=w - shift)[0].sum()
                expected[i] = (plus - minus) / 2
        assert torch.allclose(grad.view(-1), expected, atol=1e-4), g


@pytest.mark.smoke
def test_circuit_has_the_same_parameters_as_the_model():
    g = Genome(n_qubits=4, n_layers=3, rotations=("rx", "rz"), pre_widths=(8,))
    model = build_model(g, 16, 10, seed=0)
    qc = build_circuit(g)
    weights = [p for p in qc.parameters if p.vector.name == "w"]
    assert len(weights) == model.param_counts()["quantum"] == 3 * 2 * 4
    assert qc.count_ops()["measure"] == 4


def test_flops_counting():
    g = Genome(n_qubits=4, pre_widths=(16,))
    wider = Genome(n_qubits=4, pre_widths=(32,))
    f1 = classical_flops_per_sample(build_model(g, 16, 10, seed=0), 16)
    f2 = classical_flops_per_sample(build_model(wider, 16, 10, seed=0), 16)
    # Linear(16,16)+Linear(16,4)+Linear(4,10): forward 2*(256+64+40) FLOPs, backward 2x forward (the input's
    # gradient is not needed for the first layer, FlopCounterMode counts what autograd really runs)
    assert f1 > 2 * (16 * 16 + 16 * 4 + 4 * 10)
    assert f2 > 1.5 * f1
    ratio = simulation_flops_per_sample(Genome(n_qubits=6)) / simulation_flops_per_sample(Genome(n_qubits=4))
    assert 4 <= ratio <= 6  # 4x the amplitudes, 1.5x the gates
    assert flops_to_seconds(19.5e12 * 0.3, PROFILES["nvidia-a100-sxm4"]) == pytest.approx(1.0)
    local = get_profile("local")
    assert local.measured and PROFILES["nvidia-a100-sxm4"].op_latency_s > 0
    with pytest.raises(ConfigError):
        get_profile("cray-1")


def test_training_is_deterministic_and_learns():
    data = load_dataset("iris", seed=0)
    g = Genome(n_qubits=4, n_layers=2, encoding="angle_y", rotations=("ry", "rz"), pre_widths=(8,))
    a = train(g, data, epochs=15, batch_size=16, lr=0.05, seed=7)
    b = train(g, data, epochs=15, batch_size=16, lr=0.05, seed=7)
    assert a.val_accuracy == b.val_accuracy and a.train_loss == b.train_loss
    assert a.val_accuracy > 0.6  # three balanced classes: chance is 1/3


@pytest.mark.smoke
def test_datasets_are_bundled_stratified_and_bad_names_rejected(tmp_path):
    for name, classes in (("digits", 10), ("iris", 3), ("wine", 3), ("breast_cancer", 2)):
        d = load_dataset(name)
        assert d.n_classes == classes and d.n_features <= 16
        counts_tr = np.bincount(d.y_train) / len(d.y_train)
        counts_va = np.bincount(d.y_val) / len(d.y_val)
        assert np.abs(counts_tr - counts_va).max() < 0.05
        assert abs(float(d.x_train.mean())) < 0.2  # scaled on the training part
    with pytest.raises(ConfigError) as err:
        load_dataset("mnist")
    assert err.value.field == "dataset"
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(path, X=rng.normal(size=(60, 5)), y=np.repeat([0, 1], 30))
    assert load_dataset(str(path)).n_features == 5
    csv = tmp_path / "toy.csv"
    np.savetxt(csv, np.column_stack([rng.normal(size=(40, 3)), np.repeat([0, 1], 20)]), delimiter=",")
    assert load_dataset(str(csv)).n_classes == 2


def test_training_cost_follows_section_c():
    from cost_engine.calibration import load_fake_calibration
    from cost_engine.search import candidate_circuit
    from cost_engine.quantum import CostOptions, estimate_quantum_cost

    g = Genome(n_qubits=3, n_layers=2, rotations=("ry", "rz"), pre_widths=(8,))
    model = build_model(g, 16, 10, seed=0)
    report = estimate_quantum_cost(candidate_circuit(g), load_fake_calibration("torino"),
                                   CostOptions(shots=512)).to_dict()
    profile = PROFILES["nvidia-a100-sxm4"]
    c = training_cost(g, n_train=100, epochs=2, shots=512, quantum_report=report, device_profile=profile,
                      model=model, batch_size=32)
    # 12 weights + 3 data-dependent encoding angles (the trained pre-layer feeds them): 1 + 2 x 15
    assert c["p_q"] == 12 and c["n_eval"] == 31 and c["samples_seen"] == 200
    # 100 samples in steps of 32: 4 optimiser steps per epoch (32, 32, 32, 4); each step's bindings
    # (31 x 32 = 992, or 31 x 4 = 124) split into jobs of at most 300 circuits: 4 + 4 + 4 + 1 per epoch
    assert c["optimizer_steps"] == 8 and c["jobs"] == 2 * 13 and c["max_circuits_per_job"] == 300
    executions = 200 * 31
    assert c["c_q_job_overhead_s"] == pytest.approx(26 * 2.0)
    assert c["c_q_wallclock_s"] == pytest.approx(26 * 2.0 + executions * report["shots_total"] * report["t_shot_s"])
    assert c["c_q_paper_s"] == pytest.approx(executions * 512 * report["t_eff_s"])
    assert c["c_c_step_s"] == pytest.approx(c["classical_flops_per_step"] / (0.3 * 19.5e12)
                                            + c["classical_ops_per_step"] * profile.op_latency_s)
    assert c["c_c_s"] > 8 * profile.op_latency_s * 20  # latency-bound: > 20 operations per step
    assert c["c_total_s"] == pytest.approx(c["c_q_wallclock_s"] + c["c_c_s"])
    assert c["flops_only_total"] == pytest.approx(c["classical_flops_total"]
                                                  + 200 * c["simulation_flops_per_sample"])
    dead = dict(report, zero_survival=True, shots_total=None, t_eff_s=None)
    c = training_cost(g, 100, 2, 512, dead, profile, model=model)
    assert c["unrunnable"] and c["c_total_s"] is None and c["c_q_paper_s"] is None


@pytest.mark.smoke
def test_cost_engine_never_imports_django():
    code = ("import sys, pkgutil, importlib, cost_engine\n"
            "for m in pkgutil.walk_packages(cost_engine.__path__, 'cost_engine.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
            "assert not bad, bad\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
