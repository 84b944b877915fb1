"""Thin models of search runs and candidates (writes in search_app.services, reads in search_app.selectors)."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class SearchRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Visibility(models.TextChoices):
        PRIVATE = "private"
        TEAM = "team"
        PUBLIC = "public"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    name = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_runs")
    team = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="search_runs")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    config = models.JSONField(help_text="validated cost_engine.search.SearchConfig")
    dataset = models.CharField(max_length=200, db_index=True)
    backend_name = models.CharField(max_length=100, db_index=True)
    snapshot_id = models.BigIntegerField(null=True, blank=True,
                                         help_text="calibration snapshot the run is costed on (fixed at start)")
    snapshot_calibrated_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    generation = models.PositiveIntegerField(default=0, help_text="generations finished")
    generations_total = models.PositiveIntegerField(default=0)
    candidates_evaluated = models.PositiveIntegerField(default=0)
    pending_keys = models.JSONField(default=list, blank=True, help_text="genome keys asked, not yet told")
    pending_genomes = models.JSONField(default=list, blank=True,
                                       help_text="the distinct genomes of the current generation (to re-dispatch)")
    generation_started_at = models.DateTimeField(null=True, blank=True,
                                                 help_text="when the current generation was dispatched")
    hypervolume = models.JSONField(default=list, blank=True, help_text="front hypervolume after each generation")
    reference_point = models.JSONField(null=True, blank=True,
                                       help_text="hypervolume reference point, fixed per (dataset, objective space)")
    objective_space = models.CharField(max_length=300, blank=True, db_index=True,
                                       help_text="dataset, objectives and cost-model versions: runs sharing it "
                                                 "share the reference point, so their hypervolumes compare")
    config_hash = models.CharField(max_length=64, blank=True, db_index=True,
                                   help_text="sha256 of the validated config, the pinned snapshot and the cost-model "
                                             "versions: equal hashes are identical runs")
    checkpoint = models.BinaryField(null=True, blank=True, editable=False,
                                    help_text="pickled NSGA-II state after the last told generation")
    eval_seconds_total = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"search {self.pk} ({self.dataset} on {self.backend_name}, {self.status})"


class Candidate(models.Model):
    """One evaluated architecture of a run. Unique per (run, genome): a genome seen again is not re-trained."""

    run = models.ForeignKey(SearchRun, on_delete=models.CASCADE, related_name="candidates")
    genome_key = models.CharField(max_length=64)
    genome = models.JSONField()
    generation = models.PositiveIntegerField(help_text="generation in which it was first evaluated")
    accuracy = models.FloatField(help_text="validation accuracy (the objective)")
    test_accuracy = models.FloatField(null=True, blank=True,
                                      help_text="accuracy on the held-out test split (reported, never selected on)")
    train_loss = models.FloatField(null=True)
    params_classical = models.PositiveIntegerField()
    params_quantum = models.PositiveIntegerField()
    params_total = models.PositiveIntegerField(db_index=True)
    c_q_wallclock_s = models.FloatField(null=True)
    c_q_paper_s = models.FloatField(null=True)
    c_c_s = models.FloatField(null=True)
    c_total_s = models.FloatField(null=True, db_index=True)
    flops_only = models.FloatField(null=True)
    runnable = models.BooleanField(default=True)
    objectives = models.JSONField(help_text="[1 - accuracy, log10 C_total, trainable params]")
    cost = models.JSONField(help_text="every training-cost term (COST_MODEL.md section C)")
    quantum_report = models.JSONField(help_text="the quantum cost report of the candidate's circuit")
    pareto_rank = models.IntegerField(null=True, db_index=True)
    on_front = models.BooleanField(default=False, db_index=True)
    train_seconds = models.FloatField(default=0.0)
    cost_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "generation", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "genome_key"], name="uniq_candidate_per_run")]


class TeamAdmin(models.Model):
    """Marks a user as an administrator of a team (a Django group): may cancel the team's runs."""

    team = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="admins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_admin_of")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="uniq_team_admin")]


class FrontSnapshot(models.Model):
    """A finished run's candidates re-costed on one calibration snapshot (a newer one of its backend when hardware
    drifts, or any snapshot of a backend with enough qubits on request): accuracy and parameter counts are the
    run's, the quantum cost, C_total and the Pareto ranks are this snapshot's. Unique per (run, snapshot)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        INGEST = "ingest"  # a new snapshot of the run's backend arrived
        REQUEST = "request"  # asked over REST (any backend with enough qubits)

    run = models.ForeignKey(SearchRun, on_delete=models.CASCADE, related_name="front_snapshots")
    snapshot = models.ForeignKey("benchmarks_app.CalibrationSnapshot", on_delete=models.CASCADE,
                                 related_name="search_fronts")
    backend_name = models.CharField(max_length=100, db_index=True)
    snapshot_calibrated_at = models.DateTimeField(db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.INGEST)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    job = models.ForeignKey("benchmarks_app.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    model_version = models.CharField(max_length=40, blank=True, help_text="quantum cost model that re-costed it")
    n_candidates = models.PositiveIntegerField(default=0)
    n_runnable = models.PositiveIntegerField(default=0)
    front_size = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True,
                               help_text='{genome_key: {"rank", "on_front", "c_total_s", "c_q_wallclock_s", '
                                         '"runnable", "log10_c_total", "log_esp", "shots_total", "physical_qubits", '
                                         '"reason"}}')
    entered = models.JSONField(default=list, blank=True, help_text="genome keys on this front, not on the run's own")
    left = models.JSONField(default=list, blank=True, help_text="genome keys on the run's own front, not on this one")
    hypervolume = models.FloatField(null=True, blank=True, help_text="of this front against the run's reference point")
    error = models.TextField(blank=True)
    compute_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "snapshot_calibrated_at", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "snapshot"], name="uniq_front_per_run_snapshot")]

    def __str__(self) -> str:
        return f"run {self.run_id} on {self.backend_name} @ {self.snapshot_calibrated_at:%Y-%m-%d %H:%M}"


class Dataset(models.Model):
    """A labelled dataset uploaded for searches (size-limited CSV, stored normalised: numeric feature columns
    then the label). Visible to its owner and, when shared, to its team. A search config refers to it as
    ``"upload:<id>"``."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    team = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasets")
    content = models.TextField(help_text="normalised CSV: feature columns, label last, no header")
    content_hash = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    n_samples = models.PositiveIntegerField()
    n_features = models.PositiveIntegerField()
    n_classes = models.PositiveIntegerField()
    label_column = models.CharField(max_length=200)
    feature_names = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"upload:{self.pk} ({self.name})"

    @property
    def ref(self) -> str:
        return f"upload:{self.pk}"
