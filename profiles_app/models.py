"""Thin models: versioned execution profiles (cost_engine.execution), team defaults, observed IBM jobs.
Writes in profiles_app.services, reads (with search runs' visibility rules) in profiles_app.selectors."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from search_app.models import SearchRun

Visibility = SearchRun.Visibility  # the same private / team / public rules as search runs


class Scope(models.TextChoices):
    GLOBAL = "global"
    FAMILY = "family"  # a processor family (Eagle, Heron, ...)
    BACKEND = "backend"


class ExecutionProfile(models.Model):
    """One version of a named wall-clock profile: every constant of cost_engine.execution.ExecutionProfile,
    where it came from, and (when fitted) the fit report with train/test errors. Unique on (name, version);
    a new fit under the same name is the next version."""

    name = models.CharField(max_length=100, db_index=True)
    version = models.PositiveIntegerField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="execution_profiles", help_text="null: a site-wide profile")
    team = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="execution_profiles")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.GLOBAL)
    scope_value = models.CharField(max_length=100, blank=True, help_text="backend name or processor family")
    constants = models.JSONField(help_text="cost_engine.execution.ExecutionProfile.to_dict()")
    c_job_s = models.FloatField()
    c_instruction_s = models.FloatField(default=0.0)
    terms = models.JSONField(default=list, blank=True, help_text="overhead terms the profile uses")
    source = models.TextField(help_text="where the constants come from")
    provenance = models.JSONField(default=dict, blank=True,
                                  help_text="data fitted on: file / observed-job filter, rows, backends, dates")
    fit_report = models.JSONField(null=True, blank=True, help_text="train/test errors, term selection, interval")
    is_builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="uniq_execution_profile_version")]

    def __str__(self) -> str:
        return f"{self.name}@v{self.version}"

    def engine(self):
        """The cost_engine profile these constants describe."""
        from cost_engine.execution import ExecutionProfile as EngineProfile

        return EngineProfile.from_dict({**self.constants, "name": self.name, "version": self.version})


class TeamDefaultProfile(models.Model):
    """A team's default profile for one backend, one processor family, or everything (scope global)."""

    team = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="default_profiles")
    scope = models.CharField(max_length=10, choices=Scope.choices)
    scope_value = models.CharField(max_length=100, blank=True)
    profile = models.ForeignKey(ExecutionProfile, on_delete=models.CASCADE, related_name="team_defaults")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "scope", "scope_value"], name="uniq_team_default")]


class ObservedJob(models.Model):
    """One finished job's observed execution time (from IBM, or a CSV log) and the circuits it ran.
    Unique on job_id: importing the same job twice writes nothing."""

    job_id = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=20, default="ibm")
    backend_name = models.CharField(max_length=100, db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="observed_jobs")
    circuits = models.JSONField(help_text='[{"circuit": id, "count": executions, "shots": S}, ...]')
    n_circuits = models.PositiveIntegerField(help_text="circuit executions in the job (sum of counts)")
    shots = models.PositiveIntegerField(help_text="shots per circuit execution (the largest when they differ)")
    observed_seconds = models.FloatField(help_text="quantum seconds (usage) or running-to-completed time")
    observed_from = models.CharField(max_length=40, help_text="which IBM figure observed_seconds is")
    job_created_at = models.DateTimeField(null=True, blank=True, db_index=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="the job's metrics() as returned")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-job_created_at", "-id"]
