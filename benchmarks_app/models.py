"""Thin models. Writes go through services.py, reads through selectors.py."""
import uuid

from django.conf import settings
from django.db import models


class Job(models.Model):
    """A long-running piece of work (Celery task) whose progress and result the API reports."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    params = models.JSONField(default=dict, blank=True)
    progress_current = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True,
                                         help_text="when its task was last queued (the stale-work sweep re-queues)")
    dispatch_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} {self.id} ({self.status})"


class WorkerHeartbeat(models.Model):
    """Written by a worker when asked to prove it is alive and can reach the database."""

    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    task_id = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Backend(models.Model):
    """A quantum device. Structural facts come from its newest ingested snapshot."""

    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=50, default="ibm")
    processor_family = models.CharField(max_length=50, blank=True, db_index=True)
    num_qubits = models.PositiveIntegerField(db_index=True)
    basis_gates = models.JSONField(default=list)
    coupling_map = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Summary metric columns of a snapshot (cost_engine.calibration.Calibration.summary keys).
SUMMARY_FLOAT_FIELDS = ("t1_median", "t1_mean", "t1_min", "t2_median", "t2_mean", "t2_min", "error_1q_median",
                        "error_2q_median", "readout_error_median", "duration_1q_median", "duration_2q_median",
                        "readout_duration_median")
SUMMARY_INT_FIELDS = ("non_operational_qubits", "broken_edges")


class CalibrationSnapshot(models.Model):
    """One dated calibration of one backend: the full normalised data plus summary metrics as columns.
    Unique on (backend, calibrated_at, content_hash): ingesting the same data twice writes nothing."""

    class SourceKind(models.TextChoices):
        IBM = "ibm"
        FAKE = "fake"
        HISTORY = "history"
        UPLOAD = "upload"

    class Visibility(models.TextChoices):
        PUBLIC = "public"
        TEAM = "team"
        PRIVATE = "private"

    backend = models.ForeignKey(Backend, on_delete=models.CASCADE, related_name="snapshots")
    calibrated_at = models.DateTimeField(db_index=True, help_text="when the provider calibrated (from the data)")
    ingested_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=64)
    data = models.JSONField(help_text="cost_engine.calibration.Calibration.to_dict()")
    edges = models.JSONField(default=dict, help_text='{"q0-q1": [gate, error, duration_s]} for 2q basis gates')
    dt_s = models.FloatField(null=True)
    rep_delay_s = models.FloatField(null=True)
    t1_median = models.FloatField(null=True)
    t1_mean = models.FloatField(null=True)
    t1_min = models.FloatField(null=True)
    t2_median = models.FloatField(null=True)
    t2_mean = models.FloatField(null=True)
    t2_min = models.FloatField(null=True)
    error_1q_median = models.FloatField(null=True)
    error_2q_median = models.FloatField(null=True)
    readout_error_median = models.FloatField(null=True)
    duration_1q_median = models.FloatField(null=True)
    duration_2q_median = models.FloatField(null=True)
    readout_duration_median = models.FloatField(null=True)
    non_operational_qubits = models.PositiveIntegerField(default=0)
    broken_edges = models.PositiveIntegerField(default=0)
    quality_flags = models.JSONField(default=list, blank=True,
                                     help_text="ingest-time plausibility flags (cost_engine.plausibility)")
    # provenance and visibility (issue 17): who put the snapshot here, from where, and who may see it
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.IBM, db_index=True)
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="uploaded_snapshots", help_text="null for ingests")
    team = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="snapshots", help_text="the team a team-visible upload is shared with")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC,
                                  db_index=True)
    hidden = models.BooleanField(default=False, db_index=True,
                                 help_text="hidden by staff or the uploader: seen by them only")

    class Meta:
        ordering = ["-calibrated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["backend", "calibrated_at", "content_hash"],
                                               name="uniq_snapshot")]
        indexes = [models.Index(fields=["backend", "calibrated_at"])]

    def __str__(self) -> str:
        return f"{self.backend_id} @ {self.calibrated_at:%Y-%m-%d %H:%M}"

    def calibration(self):
        from cost_engine.calibration import Calibration

        return Calibration.from_dict(self.data)


class Circuit(models.Model):
    """A stored circuit (OpenQASM 2 or 3). Unique on its content hash: posting the same circuit twice
    returns the stored one."""

    class Format(models.TextChoices):
        QASM2 = "qasm2"
        QASM3 = "qasm3"

    name = models.CharField(max_length=200, blank=True)
    qasm = models.TextField()
    format = models.CharField(max_length=5, choices=Format.choices)
    num_qubits = models.PositiveIntegerField(db_index=True)
    num_gates = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, unique=True)
    tags = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="circuits")
    is_reference = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or f"circuit {self.pk}"


class CircuitAlias(models.Model):
    """One owner's name and tags for a (deduplicated) circuit: two users posting the same circuit each keep
    their own name and tags."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="aliases")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="circuit_aliases")
    name = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["circuit", "owner"]
        constraints = [models.UniqueConstraint(fields=["circuit", "owner"], name="uniq_circuit_alias")]

    def __str__(self) -> str:
        return f"{self.name or self.circuit_id} ({self.owner_id})"


class CostEstimate(models.Model):
    """The quantum cost report of one circuit on one calibration snapshot under one set of options.
    Unique on (circuit, snapshot, options hash, model version): the same question is answered once."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="estimates")
    snapshot = models.ForeignKey("CalibrationSnapshot", on_delete=models.CASCADE, related_name="estimates")
    backend = models.ForeignKey("Backend", on_delete=models.CASCADE, related_name="estimates")
    snapshot_calibrated_at = models.DateTimeField(db_index=True)
    options = models.JSONField()
    options_hash = models.CharField(max_length=64)
    model_version = models.CharField(max_length=40)
    n_1q = models.PositiveIntegerField()
    n_2q = models.PositiveIntegerField()
    n_meas = models.PositiveIntegerField()
    n_swaps = models.PositiveIntegerField()
    depth = models.PositiveIntegerField()
    depth_2q = models.PositiveIntegerField()
    t_gate_serial_s = models.FloatField()
    t_sched_s = models.FloatField()
    log_p_keep = models.FloatField(null=True)
    log_esp = models.FloatField(null=True)
    log_t_eff = models.FloatField(null=True)
    t_eff_s = models.FloatField(null=True)
    zero_survival = models.BooleanField(default=False)
    t_shot_s = models.FloatField()
    shots = models.PositiveIntegerField()
    shots_total = models.FloatField(null=True)
    wallclock_s = models.FloatField(null=True)
    report = models.JSONField()
    compute_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["circuit", "snapshot", "options_hash", "model_version"],
                                               name="uniq_estimate")]
        indexes = [models.Index(fields=["circuit", "backend", "snapshot_calibrated_at"]),
                   models.Index(fields=["snapshot", "options_hash", "model_version"])]


class EstimateRefusal(models.Model):
    """The cost engine's refusal to cost a circuit on a snapshot (the backend cannot run it: no working coupler,
    calibration without readout durations, fewer usable qubits, ...), keyed like CostEstimate. Refusals are
    deterministic in (circuit, snapshot, options, model version), so they are stored once and multi-backend
    views show "unrunnable: <reason>" instead of "not estimated yet"."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="refusals")
    snapshot = models.ForeignKey("CalibrationSnapshot", on_delete=models.CASCADE, related_name="refusals")
    backend = models.ForeignKey("Backend", on_delete=models.CASCADE, related_name="refusals")
    snapshot_calibrated_at = models.DateTimeField(db_index=True)
    options = models.JSONField()
    options_hash = models.CharField(max_length=64)
    model_version = models.CharField(max_length=40)
    error_type = models.CharField(max_length=60, help_text="the cost engine's error class")
    field = models.CharField(max_length=60, blank=True, help_text="the input the error names")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["circuit", "snapshot", "options_hash", "model_version"],
                                               name="uniq_refusal")]
        indexes = [models.Index(fields=["snapshot", "options_hash", "model_version"])]

    def __str__(self) -> str:
        return f"circuit {self.circuit_id} on {self.backend_id}: {self.reason[:60]}"
