"""Thin models of drift watches (issue 16, part 2): a team member watches a circuit (or the reference suite) on a
backend (or a processor family) for a relative change of a cost metric; crossings become alerts, and alerts of
watches with a URL become signed webhook deliveries with a log of every attempt. Writes in drift_app.services,
reads in drift_app.selectors."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class Watch(models.Model):
    class Target(models.TextChoices):
        CIRCUIT = "circuit"
        REFERENCE_SUITE = "reference_suite"

    class Direction(models.TextChoices):
        WORSE = "worse"
        BETTER = "better"
        EITHER = "either"

    name = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drift_watches")
    team = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_watches",
                             help_text="members of this group see the watch and its alerts")
    target = models.CharField(max_length=20, choices=Target.choices, default=Target.CIRCUIT)
    circuit = models.ForeignKey("benchmarks_app.Circuit", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="drift_watches")
    backend_name = models.CharField(max_length=100, blank=True, db_index=True,
                                    help_text="a backend's stored name, or blank when a processor family is watched")
    processor_family = models.CharField(max_length=50, blank=True, db_index=True)
    metric = models.CharField(max_length=40)
    threshold_rel = models.FloatField(help_text="relative change |after - before| / |before| that makes a crossing")
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.WORSE)
    profile = models.CharField(max_length=100, blank=True,
                               help_text="execution profile name for wallclock_s (blank: IBM's default profile)")
    url = models.URLField(max_length=500, blank=True, help_text="webhook receiving each alert (POST, signed)")
    secret = models.CharField(max_length=64, blank=True, editable=False,
                              help_text="HMAC-SHA256 key of the webhook signature; shown once at creation")
    options = models.JSONField(default=dict, blank=True, help_text="cost options of the watched estimates")
    active = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"watch {self.pk}"


class WatchBaseline(models.Model):
    """Per (watch, circuit, backend): the snapshot and value a crossing is measured from. Set at the first
    evaluation (the snapshot before the new one) and moved to the new snapshot by each alert, so a drift fires
    once when it crosses the threshold, not again on every later snapshot that stays there."""

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="baselines")
    circuit = models.ForeignKey("benchmarks_app.Circuit", on_delete=models.CASCADE, related_name="+")
    backend = models.ForeignKey("benchmarks_app.Backend", on_delete=models.CASCADE, related_name="+")
    snapshot = models.ForeignKey("benchmarks_app.CalibrationSnapshot", on_delete=models.CASCADE, related_name="+")
    estimate = models.ForeignKey("benchmarks_app.CostEstimate", null=True, on_delete=models.SET_NULL,
                                 related_name="+")
    value = models.FloatField(null=True)
    last_evaluated_snapshot = models.ForeignKey("benchmarks_app.CalibrationSnapshot", null=True,
                                                on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["watch", "circuit", "backend"], name="uniq_watch_baseline")]


class Alert(models.Model):
    """A watch's metric crossed its threshold on a new snapshot. Unique per (watch, circuit, snapshot)."""

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="alerts")
    circuit = models.ForeignKey("benchmarks_app.Circuit", on_delete=models.CASCADE, related_name="drift_alerts")
    backend = models.ForeignKey("benchmarks_app.Backend", on_delete=models.CASCADE, related_name="drift_alerts")
    snapshot = models.ForeignKey("benchmarks_app.CalibrationSnapshot", on_delete=models.CASCADE, related_name="+")
    baseline_snapshot = models.ForeignKey("benchmarks_app.CalibrationSnapshot", on_delete=models.CASCADE,
                                          related_name="+")
    estimate = models.ForeignKey("benchmarks_app.CostEstimate", null=True, on_delete=models.SET_NULL,
                                 related_name="+")
    baseline_estimate = models.ForeignKey("benchmarks_app.CostEstimate", null=True, on_delete=models.SET_NULL,
                                          related_name="+")
    metric = models.CharField(max_length=40)
    before = models.FloatField(null=True)
    after = models.FloatField(null=True)
    relative_change = models.FloatField(null=True, help_text="(after - before) / |before|; null when one side is "
                                                             "unrunnable (zero survival)")
    direction = models.CharField(max_length=10, help_text="worse or better")
    drivers = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["watch", "circuit", "snapshot"], name="uniq_alert")]


class WebhookDelivery(models.Model):
    """One alert's webhook POST: the exact body signed, its status and when the next attempt is due."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    alert = models.OneToOneField(Alert, on_delete=models.CASCADE, related_name="delivery")
    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="deliveries")
    url = models.URLField(max_length=500)
    body = models.TextField(help_text="the JSON body POSTed (and signed), identical on every attempt")
    signature = models.CharField(max_length=80)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class DeliveryAttempt(models.Model):
    """The delivery log: one row per POST attempt."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_s = models.FloatField()
    status_code = models.PositiveIntegerField(null=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="uniq_delivery_attempt")]
