"""HQNN building blocks: genome and search space, torch statevector simulator, models, datasets, training.

The genome, search space and dataset loader import without torch; the torch parts (models, simulator,
training) load on first use, so a web process that only validates or displays genomes never imports torch
(~160,000 objects and ~300 MB it would otherwise carry, and scan in every full garbage collection).
"""
import importlib

from .data import BUNDLED, Dataset, load_dataset, prepare_dataset
from .genome import ENCODINGS, ENTANGLERS, ROTATIONS, Genome, SearchSpace

_LAZY = {"HQNN": "model", "QuantumLayer": "model", "bind_circuit": "model", "build_circuit": "model",
         "build_model": "model", "TrainResult": "train", "train": "train"}

__all__ = ["BUNDLED", "Dataset", "load_dataset", "prepare_dataset", "ENCODINGS", "ENTANGLERS", "ROTATIONS",
           "Genome", "SearchSpace", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
