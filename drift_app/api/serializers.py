from django.contrib.auth.models import Group
from rest_framework import serializers

from ..models import Alert, DeliveryAttempt, Watch, WebhookDelivery
from ..services import WATCH_METRICS


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know (a misspelt field is a 400 naming it, not silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: [f"unknown field; allowed: {sorted(self.fields)}"]
                                                   for k in unknown})
        return super().to_internal_value(data)


class WatchCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    target = serializers.ChoiceField(choices=Watch.Target.choices, default=Watch.Target.CIRCUIT)
    circuit = serializers.IntegerField(required=False, allow_null=True, default=None)
    backend = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                    help_text="a backend name (fez, ibm_fez ...), or leave out and give processor_family")
    processor_family = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    metric = serializers.ChoiceField(choices=sorted(WATCH_METRICS))
    threshold_rel = serializers.FloatField(min_value=0, help_text="relative change that fires: 0.1 = 10 %")
    direction = serializers.ChoiceField(choices=Watch.Direction.choices, default=Watch.Direction.WORSE)
    profile = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    team = serializers.SlugRelatedField(slug_field="name", queryset=Group.objects.all(), required=False,
                                        allow_null=True, default=None)
    options = serializers.DictField(required=False, default=dict, help_text="cost options (shots, seed, ...)")


class WatchUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    threshold_rel = serializers.FloatField(required=False)
    direction = serializers.ChoiceField(choices=Watch.Direction.choices, required=False)
    active = serializers.BooleanField(required=False)


class WatchSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    team = serializers.CharField(source="team.name", read_only=True, default=None)
    circuit_name = serializers.CharField(source="circuit.name", read_only=True, default=None)
    url = serializers.URLField(read_only=True)
    alerts_url = serializers.SerializerMethodField()

    class Meta:
        model = Watch
        fields = ["id", "name", "owner", "team", "target", "circuit", "circuit_name", "backend_name",
                  "processor_family", "metric", "threshold_rel", "direction", "profile", "url", "options", "active",
                  "created_at", "alerts_url"]

    def get_alerts_url(self, watch) -> str:
        return f"/api/alerts/?watch={watch.pk}"


class AlertSerializer(serializers.ModelSerializer):
    watch_name = serializers.CharField(source="watch.name", read_only=True)
    circuit_name = serializers.CharField(source="circuit.name", read_only=True)
    backend = serializers.CharField(source="backend.name", read_only=True)
    snapshot_calibrated_at = serializers.DateTimeField(source="snapshot.calibrated_at", read_only=True)
    baseline_calibrated_at = serializers.DateTimeField(source="baseline_snapshot.calibrated_at", read_only=True)
    delivery = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "watch", "watch_name", "circuit", "circuit_name", "backend", "snapshot",
                  "snapshot_calibrated_at", "baseline_snapshot", "baseline_calibrated_at", "estimate",
                  "baseline_estimate", "metric", "before", "after", "relative_change", "direction", "drivers",
                  "created_at", "delivery"]

    def get_delivery(self, alert) -> dict | None:
        d = getattr(alert, "delivery", None)
        if d is None:
            return None
        return {"id": str(d.pk), "status": d.status, "attempts": d.attempts, "delivered_at": d.delivered_at,
                "next_attempt_at": d.next_attempt_at, "last_error": d.last_error}


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_s", "status_code", "ok", "error", "worker"]


class DeliverySerializer(serializers.ModelSerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "alert", "url", "status", "attempts", "next_attempt_at", "delivered_at", "last_error",
                  "signature", "created_at", "attempt_log"]
