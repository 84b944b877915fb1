"""Write operations for a new cost-model version (issue 13, item 5): re-cost stored estimates (and refusals) of
older model versions under the current one. Old rows are kept, readable and labelled with their version;
leaderboards and trends read the current version only.

Which options the new estimate gets: an old estimate asked with the defaults of its model version is re-asked
with today's defaults (it answered "what does this cost by default?"); otherwise its options are kept, renamed
where the current model spells them differently (LEGACY_OPTION_RENAMES), minus any option it no longer has. Idempotent: a (circuit, snapshot, options) already costed under the
current version is not computed again."""
from __future__ import annotations

from dataclasses import dataclass, field

from hanas_platform.api import InputError

from . import services

# The default cost options of every earlier model version, as they were (cost_engine.quantum.CostOptions()).
LEGACY_DEFAULT_OPTIONS = {
    "hanas-quantum-1": {"shots": 1024, "optimization_level": 1, "seed": 7, "t2_variant": "min",
                        "noise_aware_layout": False, "exclude_broken": True, "rep_delay_s": None,
                        "include_reset": True},
}


@dataclass
class RecostResult:
    candidates: int = 0  # distinct (circuit, snapshot, current options) questions found among old rows
    already_current: int = 0
    created: int = 0
    refused: int = 0
    invalid_options: int = 0
    reasons: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# Options of earlier versions that the current model spells differently: old name -> (value -> {new: value}).
# hanas-quantum-1's noise_aware_layout=true compiled with qiskit's preset pass manager on the calibrated target
# (today's layout="qiskit"); false compiled on the device's structure only (today's layout="structure").
LEGACY_OPTION_RENAMES = {
    "noise_aware_layout": lambda value: {"layout": "qiskit" if value else "structure"},
}


def current_options_for(stored: dict, version: str):
    """The CostOptions an old estimate is re-asked with (see the module docstring)."""
    names = set(services.cost_option_names())
    if version in LEGACY_DEFAULT_OPTIONS and stored == LEGACY_DEFAULT_OPTIONS[version]:
        return services.cost_options({})
    kept = {}
    for key, value in (stored or {}).items():
        if key in names:
            kept[key] = value
        elif key in LEGACY_OPTION_RENAMES:
            kept.update({k: v for k, v in LEGACY_OPTION_RENAMES[key](value).items() if k in names})
    return services.cost_options(kept)


def old_rows(backend=None, circuit=None):
    """(model, queryset) of stored estimates and refusals of other model versions than the current one."""
    from cost_engine.quantum import MODEL_VERSION

    from .models import CostEstimate, EstimateRefusal

    out = []
    for model in (CostEstimate, EstimateRefusal):
        qs = model.objects.exclude(model_version=MODEL_VERSION)
        if backend is not None:
            qs = qs.filter(backend=backend)
        if circuit is not None:
            qs = qs.filter(circuit=circuit)
        out.append((model, qs))
    return out


def recost_old_estimates(*, backend=None, circuit=None, dry_run: bool = False, batch_size: int = 200,
                         progress=None) -> RecostResult:
    """Re-cost every stored estimate/refusal of an older model version under the current one, ``batch_size``
    rows read at a time; ``progress(done, total, result)`` after each batch. ``dry_run`` computes nothing and
    counts what would be."""
    from cost_engine.quantum import MODEL_VERSION

    from .models import CalibrationSnapshot, Circuit, CostEstimate, EstimateRefusal

    result = RecostResult()
    seen: set = set()
    sources = old_rows(backend, circuit)
    total = sum(qs.count() for _, qs in sources)
    done = 0
    for model, qs in sources:
        last = 0
        while True:
            batch = list(qs.filter(pk__gt=last).order_by("pk")
                         .values_list("pk", "circuit_id", "snapshot_id", "options", "model_version")[:batch_size])
            if not batch:
                break
            last = batch[-1][0]
            circuits = Circuit.objects.in_bulk({b[1] for b in batch})
            snaps = CalibrationSnapshot.objects.select_related("backend").in_bulk({b[2] for b in batch})
            for _, circuit_id, snapshot_id, stored, version in batch:
                try:
                    options = current_options_for(stored, version)
                except InputError as exc:
                    result.invalid_options += 1
                    _reason(result, f"options {stored} no longer valid: {exc}")
                    continue
                key = (circuit_id, snapshot_id, options.options_hash())
                if key in seen:
                    continue
                seen.add(key)
                result.candidates += 1
                lookup = {"circuit_id": circuit_id, "snapshot_id": snapshot_id, "options_hash": key[2],
                          "model_version": MODEL_VERSION}
                if CostEstimate.objects.filter(**lookup).exists() or EstimateRefusal.objects.filter(**lookup).exists():
                    result.already_current += 1
                    continue
                if dry_run:
                    continue
                try:
                    _, created = services.estimate_get_or_create(circuits[circuit_id], snaps[snapshot_id], options)
                    result.created += created
                    result.already_current += not created
                except services.EstimateRefused as exc:
                    result.refused += 1
                    _reason(result, str(exc))
            done += len(batch)
            if progress is not None:
                progress(done, total, result)
    return result


def _reason(result: RecostResult, text: str) -> None:
    if text not in result.reasons and len(result.reasons) < 20:
        result.reasons.append(text)
