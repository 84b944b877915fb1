from rest_framework import serializers

from ..models import (SUMMARY_FLOAT_FIELDS, SUMMARY_INT_FIELDS, Backend, CalibrationSnapshot, Circuit,
                      CostEstimate, Job)


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "progress_current", "progress_total", "message", "params",
                  "result", "error", "created_at", "started_at", "finished_at"]

    def get_progress(self, job) -> float | None:
        if not job.progress_total:
            return None
        return round(job.progress_current / job.progress_total, 4)


SUMMARY_FIELDS = list(SUMMARY_FLOAT_FIELDS + SUMMARY_INT_FIELDS)


class SnapshotSummarySerializer(serializers.ModelSerializer):
    backend = serializers.CharField(source="backend.name", read_only=True)
    uploader = serializers.CharField(source="uploader.username", read_only=True, allow_null=True, default=None,
                                     help_text="who uploaded it (null for ingests)")
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None,
                                 help_text="the team a team-visible upload is shared with")

    class Meta:
        model = CalibrationSnapshot
        fields = ["id", "backend", "calibrated_at", "ingested_at", "source", "source_kind", "uploader", "team",
                  "visibility", "hidden", "content_hash", "dt_s", "rep_delay_s", "quality_flags"] + SUMMARY_FIELDS


class SnapshotDetailSerializer(SnapshotSummarySerializer):
    notes = serializers.SerializerMethodField()

    class Meta(SnapshotSummarySerializer.Meta):
        fields = SnapshotSummarySerializer.Meta.fields + ["notes", "data"]

    def get_notes(self, snap) -> list[str]:
        return list(snap.data.get("notes") or [])


class BackendSerializer(serializers.ModelSerializer):
    latest_snapshot = serializers.SerializerMethodField()
    snapshot_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Backend
        fields = ["name", "provider", "processor_family", "num_qubits", "basis_gates", "snapshot_count",
                  "latest_snapshot"]

    def get_latest_snapshot(self, backend) -> dict | None:
        from ..selectors import ALL, latest_summary

        request = self.context.get("request")
        snap = latest_summary(backend, request.user if request is not None else ALL)
        return SnapshotSummarySerializer(snap).data if snap else None


class BackendDetailSerializer(BackendSerializer):
    class Meta(BackendSerializer.Meta):
        fields = BackendSerializer.Meta.fields + ["coupling_map", "created_at", "updated_at"]


class CircuitCreateSerializer(serializers.Serializer):
    qasm = serializers.CharField(trim_whitespace=False, help_text="OpenQASM 2 or 3 source")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)


class AliasMixin:
    """Name and tags of a circuit as the caller gave them (their CircuitAlias), loaded once per response."""

    def alias_of(self, circuit_id):
        from ..selectors import circuit_aliases

        if "_aliases" not in self.context:  # one query per response: the aliases of the circuits it shows
            user = getattr(self.context.get("request"), "user", None)
            instance = self.root.instance
            items = [instance] if hasattr(instance, "pk") else list(instance or [])
            ids = {getattr(o, "circuit_id", None) or getattr(o, "pk", None) for o in items if o is not None}
            self.context["_aliases"] = circuit_aliases(user, ids) if user is not None else {}
        return self.context["_aliases"].get(circuit_id)


class CircuitSerializer(AliasMixin, serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None, allow_null=True)
    name = serializers.SerializerMethodField(help_text="the caller's name for the circuit (else the first poster's)")
    tags = serializers.SerializerMethodField(help_text="the caller's tags for the circuit (else the first poster's)")

    class Meta:
        model = Circuit
        fields = ["id", "name", "format", "num_qubits", "num_gates", "content_hash", "tags", "owner", "is_reference",
                  "created_at", "qasm"]

    def get_name(self, circuit) -> str:
        alias = self.alias_of(circuit.pk)
        return alias[0] if alias and alias[0] else circuit.name

    def get_tags(self, circuit) -> list[str]:
        alias = self.alias_of(circuit.pk)
        return list(alias[1]) if alias else list(circuit.tags)


def cost_option_fields() -> dict:
    """One optional serializer field per field of cost_engine.quantum.CostOptions, built from the dataclass (its
    type and default) so an option added to the cost engine is accepted over REST without touching this file.
    The values are checked by CostOptions.validate() (services.cost_options), which names the bad field."""
    import dataclasses
    import typing

    from cost_engine.quantum import CostOptions

    hints = typing.get_type_hints(CostOptions)
    out = {}
    for f in dataclasses.fields(CostOptions):
        kind = hints.get(f.name)
        args = set(typing.get_args(kind)) or {kind}
        nullable = type(None) in args
        args.discard(type(None))
        base = next(iter(args)) if len(args) == 1 else None
        doc = f"cost option (default {f.default!r})"
        kw = {"required": False, "help_text": doc}
        if base is bool:
            out[f.name] = serializers.BooleanField(allow_null=nullable, **kw)
        elif base is int:
            out[f.name] = serializers.IntegerField(allow_null=nullable, **kw)
        elif base is float:
            out[f.name] = serializers.FloatField(allow_null=nullable, **kw)
        elif base is str:
            out[f.name] = serializers.CharField(allow_null=nullable, allow_blank=False, **kw)
        else:  # anything else goes to CostOptions.validate() unchanged
            out[f.name] = serializers.JSONField(**kw)
    return out


class StrictSerializer(serializers.Serializer):
    """A serializer that answers 400 naming every field it does not know (a misspelt option must not be
    silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [f"unknown field; allowed: {', '.join(sorted(self.fields))}"] for name in unknown})
        return super().to_internal_value(data)


class _EstimateRequestSerializer(StrictSerializer):
    circuit = serializers.IntegerField(required=False, allow_null=True, help_text="id of a stored circuit")
    qasm = serializers.CharField(required=False, allow_blank=False, trim_whitespace=False,
                                 help_text="inline OpenQASM 2/3 (stored as a circuit)")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    backend = serializers.CharField(max_length=100)
    snapshot = serializers.CharField(required=False, default="latest",
                                     help_text="'latest', an id, an ISO date-time (the newest at or before it), or "
                                               "an ISO date: that whole day in UTC (its latest snapshot, else the "
                                               "newest before it)")
    # not cost options: how the stored estimate's wall-clock is read (profiles_app, computed at read time)
    profile = serializers.CharField(required=False, allow_blank=True, max_length=120,
                                    help_text="execution profile NAME or NAME@vN (default: your team's default "
                                              "for the backend, else ibm-default)")
    n_circuits = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000, default=1,
                                          help_text="circuit executions in one job (e.g. a parameter-shift batch)")


# The request fields plus every CostOptions field (see cost_option_fields)
EstimateRequestSerializer = type("EstimateRequestSerializer", (_EstimateRequestSerializer,), cost_option_fields())


class CostEstimateListSerializer(AliasMixin, serializers.ModelSerializer):
    """An estimate's queried terms; the full report is in the detail (/api/estimates/{id}/)."""

    backend = serializers.CharField(source="backend.name", read_only=True)
    circuit_name = serializers.SerializerMethodField(help_text="the caller's name for the circuit")
    current = serializers.SerializerMethodField(help_text="computed by the current cost-model version (only "
                                                          "those feed leaderboards and trends)")

    class Meta:
        model = CostEstimate
        fields = ["id", "circuit", "circuit_name", "backend", "snapshot", "snapshot_calibrated_at", "model_version",
                  "current",
                  "wallclock_s", "t_eff_s", "log_t_eff", "log_esp", "log_p_keep", "zero_survival", "t_sched_s",
                  "t_gate_serial_s", "t_shot_s", "shots", "shots_total", "n_1q", "n_2q", "n_meas", "n_swaps", "depth",
                  "depth_2q", "compute_seconds", "created_at"]


    def get_circuit_name(self, est) -> str:
        alias = self.alias_of(est.circuit_id)
        return alias[0] if alias and alias[0] else est.circuit.name

    def get_current(self, est) -> bool:
        from cost_engine.quantum import MODEL_VERSION

        return est.model_version == MODEL_VERSION


class CostEstimateSerializer(CostEstimateListSerializer):
    """An estimate with its options and the full cost report."""

    class Meta(CostEstimateListSerializer.Meta):
        fields = CostEstimateListSerializer.Meta.fields + ["options", "report"]
