"""Hyb-HANAS search core (COST_MODEL.md section D): NSGA-II in ask/tell form over HQNN genomes.

Pure Python. The platform's Celery orchestration (search_app) and the in-process :func:`run_local` both use:
- :class:`SearchConfig` — a validated search configuration;
- :class:`Driver` — pymoo NSGA-II in ask/tell form whose whole state pickles into a checkpoint;
- :func:`evaluate_genome` — train one candidate on the torch simulator and cost it on a calibration;
- :func:`objectives`, :func:`pareto_ranks`, :func:`hypervolume` — the three minimised objectives
  (1 - validation accuracy, log10 C_total, trainable parameters), non-dominated ranks and the front's
  hypervolume against the reference point fixed per (dataset, objective space), :func:`dataset_reference_point`.

A candidate whose circuit cannot run on the device (zero survival) is infeasible: it gets a constraint
violation instead of an invented cost, so NSGA-II ranks it behind every runnable candidate.
"""
from __future__ import annotations

import dataclasses
import math
import pickle
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
from pymoo.core.problem import Problem

from .errors import ConfigError, dataclass_fields

DATASETS = ("digits", "iris", "wine", "breast_cancer")
OBJECTIVES = ("one_minus_accuracy", "log10_c_total", "trainable_params")


@dataclass(frozen=True)
class SearchConfig:
    dataset: str = "digits"
    backend: str = "ibm_sherbrooke"
    snapshot: str = "latest"  # "latest" (at start) or an ISO date or a snapshot id (platform-side)
    space: dict = field(default_factory=dict)  # SearchSpace.to_dict(); {} = defaults
    population: int = 12
    generations: int = 5
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 0.02
    shots: int = 1024
    seed: int = 0
    device_profile: str = "nvidia-a100-sxm4"
    max_train_samples: int | None = None
    optimization_level: int = 1
    execution_profile: str = ""  # wall-clock profile "name" or "name@vN" ("" = ibm-default); pinned at start

    LIMITS = {"population": (4, 200), "generations": (1, 100), "epochs": (1, 100), "batch_size": (1, 4096),
              "shots": (1, 1_000_000), "optimization_level": (0, 3)}

    def validate(self) -> "SearchConfig":
        from .classical import get_profile_spec
        from .hqnn import SearchSpace

        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError("dataset must be a name or a local file path", field="dataset")
        if not isinstance(self.backend, str) or not self.backend:
            raise ConfigError("backend must be a backend name", field="backend")
        for name, (lo, hi) in self.LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError("seed must be a non-negative integer", field="seed")
        if (not isinstance(self.learning_rate, (int, float)) or isinstance(self.learning_rate, bool)
                or not 0 < self.learning_rate < 10):
            raise ConfigError("learning_rate must be a number in (0, 10)", field="learning_rate")
        if self.max_train_samples is not None and (not isinstance(self.max_train_samples, int)
                                                   or self.max_train_samples < 10):
            raise ConfigError("max_train_samples must be null or an integer >= 10", field="max_train_samples")
        if not isinstance(self.space, dict):
            raise ConfigError("space must be an object of search-space bounds", field="space")
        try:
            SearchSpace.from_dict(self.space).validate()
        except ConfigError as exc:
            raise ConfigError(str(exc), field=f"space.{exc.field}" if exc.field else "space") from exc
        get_profile_spec(self.device_profile)
        if not isinstance(self.execution_profile, str):
            raise ConfigError("execution_profile must be a profile name or name@vN", field="execution_profile")
        return self

    @property
    def search_space(self):
        from .hqnn import SearchSpace

        return SearchSpace.from_dict(self.space)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "SearchConfig":
        return cls(**dataclass_fields(cls, data, "search config", "config")).validate()


# --------------------------------------------------------------------------------- NSGA-II driver
class GenomeProblem(Problem):
    """Integer-coded genome, 3 minimised objectives, 1 inequality constraint (runnable on the device).
    Evaluation happens outside, through ask/tell, so ``_evaluate`` is never called."""

    def __init__(self, xl, xu):
        super().__init__(n_var=len(xl), n_obj=3, n_ieq_constr=1, xl=xl, xu=xu, vtype=int)

    def _evaluate(self, x, out, *args, **kwargs):  # pragma: no cover - ask/tell only
        raise RuntimeError("GenomeProblem is evaluated through ask/tell")


class Driver:
    """NSGA-II in ask/tell form. ``ask()`` returns genomes; ``tell(F, G)`` gives their objectives and
    constraint values in the same order. ``dumps()``/``loads()`` checkpoint the complete state (population,
    random generator, generation counter) so a run resumes exactly where it stopped."""

    def __init__(self, config: SearchConfig):
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        self.config = config
        space = config.search_space
        self.problem = GenomeProblem(np.asarray(space.xl, dtype=float), np.asarray(space.xu, dtype=float))
        self.algorithm = NSGA2(
            pop_size=config.population,
            sampling=IntegerRandomSampling(),
            crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
            mutation=PM(eta=20, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=True,
        )
        self.algorithm.setup(self.problem, termination=("n_gen", config.generations), seed=config.seed,
                             verbose=False)
        self.generation = 0  # generations told so far
        self._pending = None

    def ask(self) -> list:
        space = self.config.search_space
        self._pending = self.algorithm.ask()
        return [space.decode(x) for x in self._pending.get("X")]

    def tell(self, F: Iterable[Iterable[float]], G: Iterable[float]) -> None:
        if self._pending is None:
            raise RuntimeError("tell() without ask()")
        from pymoo.core.evaluator import Evaluator
        from pymoo.problems.static import StaticProblem

        F = np.asarray(list(F), dtype=float)
        G = np.asarray(list(G), dtype=float).reshape(-1, 1)
        if len(F) != len(self._pending):
            raise ValueError(f"tell() got {len(F)} results for {len(self._pending)} asked candidates")
        Evaluator().eval(StaticProblem(self.problem, F=F, G=G), self._pending)
        self.algorithm.tell(infills=self._pending)
        self._pending = None
        self.generation += 1

    @property
    def finished(self) -> bool:
        return self.generation >= self.config.generations

    def dumps(self) -> bytes:
        return pickle.dumps(self)

    @staticmethod
    def loads(blob: bytes) -> "Driver":
        return pickle.loads(blob)


# ------------------------------------------------------------------------------- objectives etc.
def objectives(accuracy: float, c_total_s: float | None, trainable_params: int) -> tuple[list[float], float]:
    """(F, G): the three minimised objectives and the constraint (<= 0 feasible). An unrunnable candidate
    (no finite C_total) is infeasible; its cost objective is set to a finite placeholder that pymoo never
    compares because it is infeasible, and the constraint violation says why."""
    if c_total_s is None or not math.isfinite(c_total_s) or c_total_s <= 0:
        return [1.0 - accuracy, 99.0, float(trainable_params)], 1.0
    return [1.0 - accuracy, math.log10(c_total_s), float(trainable_params)], 0.0


def pareto_ranks(F: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """Non-dominated rank (0 = front) of every row; infeasible rows rank after all feasible ones."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=float)
    feasible = np.asarray(feasible, dtype=bool)
    ranks = np.full(len(F), -1, dtype=int)
    idx = np.flatnonzero(feasible)
    n_fronts = 0
    if len(idx):
        fronts = NonDominatedSorting().do(F[idx])
        for r, front in enumerate(fronts):
            ranks[idx[front]] = r
        n_fronts = len(fronts)
    bad = np.flatnonzero(~feasible)
    if len(bad):
        fronts = NonDominatedSorting().do(F[bad])
        for r, front in enumerate(fronts):
            ranks[bad[front]] = n_fronts + r
    return ranks


# Objectives and their units; with the cost-model versions this names the "objective space" in which fronts of
# different runs are comparable.
LOG10_COST_CAP = 10.0  # reference on the cost axis: 1e10 s (317 years of QPU time) for every dataset


def objective_space(dataset: str) -> str:
    """The key under which runs share one hypervolume reference point: dataset, the objectives and the
    versions of the cost models that produce C_total."""
    from .quantum import MODEL_VERSION
    from .training import TRAINING_COST_VERSION

    return f"{dataset}|{'|'.join(OBJECTIVES)}|{MODEL_VERSION}|training-{TRAINING_COST_VERSION}"


def reference_point(max_params: float, max_log_cost: float = LOG10_COST_CAP) -> list[float]:
    """Hypervolume reference point: accuracy 0, cost ``max_log_cost`` (log10 s), and ``max_params`` plus 10%."""
    return [1.0, float(max_log_cost), float(max_params) * 1.1 + 1.0]


def dataset_reference_point(dataset: str, seed: int | None = None, data=None) -> list[float]:
    """The reference point fixed per (dataset, objective space), whatever a run's own search space or first
    generation: accuracy 0, C_total = 1e10 s, and the trainable parameters of the largest genome of the
    *default* search space on this dataset's feature and class counts (plus 10%). Candidates beyond it (a run
    exploring a larger space) add no hypervolume. Two runs on one dataset are compared against this one
    point, so their hypervolumes are comparable."""
    from .hqnn import SearchSpace, load_dataset

    if data is None:
        data = load_dataset(dataset)  # feature and class counts do not depend on the split seed
    largest = SearchSpace().largest_genome().trainable_params(data.n_features, data.n_classes)
    return reference_point(largest, LOG10_COST_CAP)  # counted without torch: the web process never loads it


def hypervolume(F: np.ndarray, ref: list[float], ideal: list[float] | None = None) -> float:
    """Hypervolume of the feasible front, objectives normalised to [0, 1] between ``ideal`` and ``ref``."""
    from pymoo.indicators.hv import HV

    F = np.asarray(F, dtype=float)
    if F.size == 0:
        return 0.0
    ref = np.asarray(ref, dtype=float)
    ideal = np.zeros_like(ref) if ideal is None else np.asarray(ideal, dtype=float)
    scale = np.where(ref - ideal > 0, ref - ideal, 1.0)
    Fn = (F - ideal) / scale
    Fn = Fn[np.all(Fn < 1.0, axis=1)]
    if len(Fn) == 0:
        return 0.0
    return float(HV(ref_point=np.ones(F.shape[1]))(Fn))


# ------------------------------------------------------------------------------------ evaluation
@dataclass
class Evaluation:
    genome: dict
    genome_key: str
    accuracy: float  # validation split: the objective
    train_loss: float
    params_classical: int
    params_quantum: int
    params_total: int
    cost: dict
    quantum: dict
    F: list[float]
    G: float
    train_seconds: float
    cost_seconds: float
    test_accuracy: float | None = None  # held-out test split: reported, never used for selection

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def candidate_circuit(genome, seed: int = 0):
    """The genome's parameterised circuit with generic (seeded, non-special) angles bound, so the
    transpiler cannot cancel gates that a trained model would keep."""
    from .hqnn import build_circuit

    qc = build_circuit(genome)
    rng = np.random.default_rng(seed)
    values = {p: float(rng.uniform(0.1, 2 * math.pi - 0.1)) for p in qc.parameters}
    return qc.assign_parameters(values) if values else qc


def candidate_options(config: SearchConfig):
    """The cost options a candidate's circuit is costed with: the estimate's own defaults (layout included),
    only what the search config sets is passed."""
    from .quantum import CostOptions

    return CostOptions(shots=config.shots, optimization_level=config.optimization_level, seed=config.seed)


def evaluate_genome(genome, config: SearchConfig, calibration, dataset=None, compile_cache=None,
                    profile=None, execution_profile=None) -> Evaluation:
    """Train the candidate on the torch simulator and cost it (section C) on ``calibration``."""
    from .classical import get_profile
    from .hqnn import load_dataset, train
    from .quantum import estimate_quantum_cost
    from .training import training_cost

    genome.validate()
    if dataset is None:
        dataset = load_dataset(config.dataset, seed=config.seed, max_train_samples=config.max_train_samples)
    started = time.perf_counter()
    result = train(genome, dataset, epochs=config.epochs, batch_size=config.batch_size,
                   lr=config.learning_rate, seed=config.seed)
    trained = time.perf_counter()
    report = estimate_quantum_cost(candidate_circuit(genome, config.seed), calibration, candidate_options(config),
                                   cache=compile_cache, profile=execution_profile).to_dict()
    cost = training_cost(genome, n_train=len(dataset.y_train), epochs=config.epochs, shots=config.shots,
                         quantum_report=report, device_profile=profile or get_profile(config.device_profile),
                         n_features=dataset.x_train.shape[1], n_classes=dataset.n_classes,
                         batch_size=config.batch_size, execution_profile=execution_profile,
                         max_circuits_per_job=getattr(calibration, "max_experiments", None))
    counts = result.param_counts
    F, G = objectives(result.val_accuracy, cost.get("c_total_s"), counts["total"])
    return Evaluation(
        genome=genome.to_dict(), genome_key=genome.key(), accuracy=float(result.val_accuracy),
        train_loss=float(result.train_loss), params_classical=int(counts["classical"]),
        params_quantum=int(counts["quantum"]), params_total=int(counts["total"]), cost=cost, quantum=report,
        F=F, G=G, train_seconds=trained - started, cost_seconds=time.perf_counter() - trained,
        test_accuracy=result.test_accuracy)


def run_local(config: SearchConfig, calibration, progress: Callable[[int, int, int], None] | None = None):
    """Run a whole search in this process (library use and benchmarks). Returns (evaluations by key,
    hypervolume per generation). The platform runs the same loop as Celery tasks with checkpoints."""
    from .hqnn import load_dataset
    from .quantum import CompileCache

    config.validate()
    dataset = load_dataset(config.dataset, seed=config.seed, max_train_samples=config.max_train_samples)
    cache = CompileCache()
    driver = Driver(config)
    done: dict[str, Evaluation] = {}
    hv: list[float] = []
    ref = dataset_reference_point(config.dataset, config.seed)
    while not driver.finished:
        genomes = driver.ask()
        for i, g in enumerate(genomes):
            if g.key() not in done:
                done[g.key()] = evaluate_genome(g, config, calibration, dataset, cache)
            if progress:
                progress(driver.generation, i + 1, len(genomes))
        evals = [done[g.key()] for g in genomes]
        driver.tell([e.F for e in evals], [e.G for e in evals])
        feasible = [e.F for e in done.values() if e.G <= 0]
        hv.append(hypervolume(np.asarray(feasible), ref))
    return done, hv


def run_reference_point(config: SearchConfig, first_generation_F: list[list[float]] | None = None,
                        dataset=None) -> list[float]:
    """The run's reference point: the one fixed for its dataset (``first_generation_F`` is ignored; kept for
    callers of the per-run point this replaced). ``dataset``: the prepared data, for an uploaded dataset that
    cannot be loaded by name."""
    return dataset_reference_point(config.dataset, config.seed, data=dataset)
