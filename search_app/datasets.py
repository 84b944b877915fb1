"""Datasets uploaded for searches (issue 17): a size-limited CSV with a label column, parsed and checked before
anything is stored, kept in the database (normalised: numeric features, label last), visible to its owner and
its team. A search config names a dataset as one of the bundled scikit-learn names or ``"upload:<id>"``;
nothing else (no server path) is accepted."""
from __future__ import annotations

import csv
import hashlib
import io
import math
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from hanas_platform.api import InputError

from .models import Dataset, SearchRun

UPLOAD_REF = re.compile(r"upload:(\d{1,12})")


# ------------------------------------------------------------------------------------------ reads
def visible_datasets(user) -> QuerySet[Dataset]:
    """The owner's datasets and their teams' (superusers see all; anonymous callers none)."""
    qs = Dataset.objects.select_related("owner", "team").defer("content")
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(Q(owner=user) | Q(team__in=user.groups.all()))


def dataset_get(user, dataset_id) -> Dataset:
    try:
        return visible_datasets(user).get(pk=int(dataset_id))
    except (Dataset.DoesNotExist, ValueError, TypeError):
        raise InputError(f"dataset {dataset_id} not found", field="dataset", status_code=404) from None


def normalise_ref(value):
    """A search config's ``dataset``: an uploaded dataset's integer id becomes ``"upload:<id>"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"upload:{value}"
    return value


def check_ref(ref, user) -> None:
    """A search may use a bundled dataset or an uploaded one the user may see; never a server path (and the
    answer does not depend on which files exist on the server)."""
    from cost_engine.hqnn import BUNDLED

    if isinstance(ref, str) and ref in BUNDLED:
        return
    match = UPLOAD_REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise InputError(f"dataset must be one of {', '.join(BUNDLED)} or an uploaded dataset id "
                         "(\"upload:<id>\", see /api/datasets/)", field="config.dataset")
    try:
        dataset_get(user, match.group(1))
    except InputError:
        raise InputError(f"no uploaded dataset {ref} visible to you", field="config.dataset") from None


def arrays(dataset_id: int):
    """(features, labels) of a stored dataset."""
    import numpy as np

    content = Dataset.objects.values_list("content", flat=True).get(pk=dataset_id)
    rows = list(csv.reader(io.StringIO(content)))
    return np.asarray([[float(v) for v in r[:-1]] for r in rows], dtype=np.float64), np.asarray([r[-1] for r in rows])


def load(ref: str, *, seed: int = 0, max_train_samples=None):
    """The cost_engine Dataset of a config's dataset reference (bundled name or ``upload:<id>``)."""
    from cost_engine.hqnn import load_dataset, prepare_dataset

    match = UPLOAD_REF.fullmatch(ref)
    if match is None:
        return load_dataset(ref, seed=seed, max_train_samples=max_train_samples)
    x, y = arrays(int(match.group(1)))
    return prepare_dataset(ref, x, y, seed=seed, max_train_samples=max_train_samples)


# ----------------------------------------------------------------------------------------- writes
def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_csv(raw: bytes, label=None) -> dict:
    """Parse an uploaded CSV: an optional header row, numeric feature columns, one label column (by header name
    or 0-based index, negative from the end; default the column named "label", else the last). Returns the
    normalised content and its description; every problem is a 400 naming ``file`` or ``label``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the file must be UTF-8 text (CSV)", field="file") from None
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise InputError(f"not a valid CSV file: {exc}", field="file") from None
    if not rows:
        raise InputError("the CSV file is empty", field="file")
    width = len(rows[0])
    if width < 2:
        raise InputError("the CSV needs at least one feature column and a label column", field="file")
    if width > settings.HANAS_MAX_DATASET_COLUMNS:
        raise InputError(f"the CSV has {width} columns; the limit is HANAS_MAX_DATASET_COLUMNS="
                         f"{settings.HANAS_MAX_DATASET_COLUMNS}", field="file")
    header = None
    if sum(_number(c) is None for c in rows[0]) > 1 or (width == 2 and _number(rows[0][0]) is None):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if label in (None, ""):
        index = header.index("label") if header and "label" in header else width - 1
    elif header and str(label) in header:
        index = header.index(str(label))
    else:
        try:
            index = int(label)
        except (TypeError, ValueError):
            raise InputError(f"no column named {label!r}" + (f"; columns: {header}" if header else
                                                            " (the file has no header row)"), field="label") from None
        if not -width <= index < width:
            raise InputError(f"label column {index} out of range (0..{width - 1})", field="label")
        index %= width
    features, labels = [], []
    for n, row in enumerate(rows, 2 if header else 1):
        if len(row) != width:
            raise InputError(f"line {n} has {len(row)} columns; expected {width}", field="file")
        values = [_number(c) for i, c in enumerate(row) if i != index]
        if any(v is None for v in values):
            raise InputError(f"line {n}: every feature must be a finite number", field="file")
        lab = row[index].strip()
        if not lab:
            raise InputError(f"line {n}: empty label", field="file")
        features.append(values)
        labels.append(lab)
    classes = sorted(set(labels))
    if len(features) < 10:
        raise InputError(f"the dataset needs at least 10 labelled samples; it has {len(features)}", field="file")
    if len(classes) < 2:
        raise InputError("the label column has a single class", field="label")
    if len(classes) > settings.HANAS_MAX_DATASET_CLASSES:
        raise InputError(f"the label column has {len(classes)} classes; the limit is HANAS_MAX_DATASET_CLASSES="
                         f"{settings.HANAS_MAX_DATASET_CLASSES} (is it the right column?)", field="label")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for values, lab in zip(features, labels):
        writer.writerow([repr(v) for v in values] + [lab])
    names = [c for i, c in enumerate(header) if i != index] if header else []
    return {"content": out.getvalue(), "n_samples": len(features), "n_features": width - 1,
            "n_classes": len(classes), "label_column": header[index] if header else str(index),
            "feature_names": names}


def dataset_create(*, owner, name: str, upload, label=None, team_name=None) -> Dataset:
    """Store an uploaded CSV (size checked before it is read) for the owner, shared with the named team of
    theirs, else their only team (private when they belong to none or several)."""
    from benchmarks_app.services import upload_team

    if upload is None:
        raise InputError("attach the CSV as multipart field 'file'", field="file")
    limit = settings.HANAS_MAX_DATASET_BYTES
    if upload.size > limit:
        raise InputError(f"the file is {upload.size} bytes; the limit is HANAS_MAX_DATASET_BYTES={limit}",
                         field="file", status_code=413)
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise InputError(f"the file exceeds HANAS_MAX_DATASET_BYTES={limit}", field="file", status_code=413)
    team = upload_team(owner, team_name)
    parsed = parse_csv(raw, label)
    name = (name or getattr(upload, "name", "") or "dataset").strip()[:200]
    with transaction.atomic():
        return Dataset.objects.create(name=name, owner=owner, team=team, size_bytes=len(raw),
                                      content_hash=hashlib.sha256(parsed["content"].encode()).hexdigest(), **parsed)


def dataset_delete(dataset: Dataset, user) -> None:
    if not (user.is_superuser or dataset.owner_id == user.pk):
        raise InputError("only the owner may delete this dataset", field="dataset", status_code=403)
    if SearchRun.objects.filter(dataset=dataset.ref).exists():
        raise InputError(f"search runs use {dataset.ref}; it cannot be deleted", field="dataset", status_code=409)
    dataset.delete()
