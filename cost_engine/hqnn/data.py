"""Datasets: scikit-learn's bundled digits, iris, wine and breast_cancer (no download), or a local .npz
(arrays X, y) or .csv (last column the label). Fixed stratified split, scaling fitted on the training part,
PCA to at most ``max_features`` features."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

BUNDLED = ("digits", "iris", "wine", "breast_cancer")


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    x_test: np.ndarray | None = None  # held out from training and from selection: reported only
    y_test: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


def _raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name in BUNDLED:
        from sklearn import datasets

        data = getattr(datasets, f"load_{name}")()
        return np.asarray(data.data, dtype=np.float64), np.asarray(data.target)
    if not os.path.isfile(name):
        raise ConfigError(f"unknown dataset {name!r}: use one of {BUNDLED} or a local .npz/.csv file path",
                          field="dataset")
    try:
        if name.endswith(".npz"):
            with np.load(name) as f:
                if "X" not in f or "y" not in f:
                    raise ConfigError(f"{name} must hold arrays 'X' and 'y'", field="dataset")
                return np.asarray(f["X"], dtype=np.float64), np.asarray(f["y"])
        if name.endswith(".csv"):
            table = np.genfromtxt(name, delimiter=",", dtype=np.float64)
            if table.ndim != 2 or table.shape[1] < 2 or np.isnan(table).any():
                raise ConfigError(f"{name} must be a numeric CSV without header, label in the last column",
                                  field="dataset")
            return table[:, :-1], table[:, -1]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read dataset {name}: {exc}", field="dataset") from exc
    raise ConfigError(f"dataset file {name} must end in .npz or .csv", field="dataset")


@functools.lru_cache(maxsize=16)
def load_dataset(name: str, seed: int = 0, val_fraction: float = 0.25, max_features: int = 16,
                 max_train_samples: int | None = None, test_fraction: float = 0.2) -> Dataset:
    x, y = _raw(name)
    return prepare_dataset(name, x, y, seed=seed, val_fraction=val_fraction, max_features=max_features,
                           max_train_samples=max_train_samples, test_fraction=test_fraction)


def prepare_dataset(name: str, x, y, seed: int = 0, val_fraction: float = 0.25, max_features: int = 16,
                    max_train_samples: int | None = None, test_fraction: float = 0.2) -> Dataset:
    """Split, scale and reduce in-memory arrays (features ``x``, labels ``y``) exactly as :func:`load_dataset`
    does for a named dataset (the platform's uploaded datasets come this way). Stratified split:
    ``test_fraction`` of the samples held out as the test split first (reported, never used for selection),
    then ``val_fraction`` of the rest as the validation split (the search objective), the remainder for
    training."""
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    if len(x) != len(y) or len(x) < 10:
        raise ConfigError(f"dataset {name} needs at least 10 labelled samples", field="dataset")
    y = LabelEncoder().fit_transform(y)
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise ConfigError(f"dataset {name} has a single class", field="dataset")
    x_te, y_te = x[:0], y[:0]
    if test_fraction:
        x, x_te, y, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=val_fraction, random_state=seed, stratify=y)
    if max_train_samples is not None and len(x_tr) > max_train_samples:
        x_tr, _, y_tr, _ = train_test_split(x_tr, y_tr, train_size=max_train_samples, random_state=seed,
                                            stratify=y_tr)
    scaler = StandardScaler().fit(x_tr)
    x_tr, x_va = scaler.transform(x_tr), scaler.transform(x_va)
    x_te = scaler.transform(x_te) if len(x_te) else np.zeros((0, x_tr.shape[1]))
    if x_tr.shape[1] > max_features:
        pca = PCA(n_components=max_features, random_state=seed).fit(x_tr)
        x_tr, x_va = pca.transform(x_tr), pca.transform(x_va)
        x_te = pca.transform(x_te) if len(x_te) else np.zeros((0, max_features))
    return Dataset(name=os.path.basename(name), x_train=x_tr.astype(np.float32), y_train=y_tr.astype(np.int64),
                   x_val=x_va.astype(np.float32), y_val=y_va.astype(np.int64), n_classes=n_classes,
                   x_test=x_te.astype(np.float32), y_test=np.asarray(y_te).astype(np.int64))
