"""Training on the torch simulator: Adam, cross-entropy, deterministic under a seed."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .data import Dataset
from .genome import Genome
from .model import build_model


@dataclass(frozen=True)
class TrainResult:
    val_accuracy: float  # the search objective
    train_loss: float
    epochs: int
    seconds: float
    param_counts: dict
    test_accuracy: float | None = None  # held-out test split, reported only (never used for selection)


def train(genome: Genome, dataset: Dataset, epochs: int = 3, batch_size: int = 32, lr: float = 0.02,
          seed: int = 0, return_model: bool = False):
    started = time.perf_counter()
    model = build_model(genome, dataset.n_features, dataset.n_classes, seed=seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.from_numpy(dataset.x_train)
    y = torch.from_numpy(dataset.y_train)
    gen = torch.Generator().manual_seed(seed)
    loss_sum, seen = 0.0, 0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        loss_sum, seen = 0.0, 0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            seen += len(idx)
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(dataset.x_val)).argmax(1).numpy()
        test_acc = None
        if dataset.x_test is not None and len(dataset.x_test):
            test_acc = float(np.mean(model(torch.from_numpy(dataset.x_test)).argmax(1).numpy() == dataset.y_test))
    acc = float(np.mean(pred == dataset.y_val))
    result = TrainResult(val_accuracy=acc, train_loss=loss_sum / max(seen, 1), epochs=epochs,
                         seconds=time.perf_counter() - started, param_counts=model.param_counts(),
                         test_accuracy=test_acc)
    return (result, model) if return_model else result
