"""HQNN building blocks: genome and search space, torch statevector simulator, models, datasets, training."""
from .data import BUNDLED, Dataset, load_dataset
from .genome import ENCODINGS, ENTANGLERS, ROTATIONS, Genome, SearchSpace
from .model import HQNN, QuantumLayer, bind_circuit, build_circuit, build_model
from .train import TrainResult, train

__all__ = ["BUNDLED", "Dataset", "load_dataset", "ENCODINGS", "ENTANGLERS", "ROTATIONS", "Genome", "SearchSpace",
           "HQNN", "QuantumLayer", "bind_circuit", "build_circuit", "build_model", "TrainResult", "train"]
