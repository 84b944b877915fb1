from rest_framework import serializers

from ..models import ExecutionProfile, ObservedJob, Scope, TeamDefaultProfile, Visibility


class ExecutionProfileSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None, allow_null=True)
    team = serializers.CharField(source="team.name", read_only=True, default=None, allow_null=True)
    ref = serializers.SerializerMethodField()
    test_errors = serializers.SerializerMethodField()

    class Meta:
        model = ExecutionProfile
        fields = ["id", "name", "version", "ref", "owner", "team", "visibility", "scope", "scope_value", "terms",
                  "constants", "source", "provenance", "test_errors", "is_builtin", "created_at"]

    def get_ref(self, row) -> str:
        return str(row)

    def get_test_errors(self, row) -> dict | None:
        """Held-out errors of the fit, the default profile and the paper's T_eff x S."""
        return (row.fit_report or {}).get("test")


class ExecutionProfileDetailSerializer(ExecutionProfileSerializer):
    class Meta(ExecutionProfileSerializer.Meta):
        fields = ExecutionProfileSerializer.Meta.fields + ["fit_report"]


class TeamDefaultSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name", read_only=True)
    profile = serializers.CharField(source="profile.__str__", read_only=True)

    class Meta:
        model = TeamDefaultProfile
        fields = ["id", "team", "scope", "scope_value", "profile", "updated_at"]


class TeamDefaultRequestSerializer(serializers.Serializer):
    team = serializers.CharField(max_length=150)
    scope = serializers.ChoiceField(choices=Scope.choices)
    scope_value = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    profile = serializers.CharField(max_length=120, help_text="NAME or NAME@vN")


class FitRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    csv = serializers.CharField(required=False, trim_whitespace=False,
                                help_text="the observed-jobs CSV as text (or upload it as `file`)")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    team = serializers.CharField(required=False, allow_blank=True, max_length=150)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.GLOBAL)
    scope_value = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    test_fraction = serializers.FloatField(required=False, default=0.3, min_value=0.1, max_value=0.9)
    seed = serializers.IntegerField(required=False, default=0, min_value=0)
    terms = serializers.CharField(required=False, allow_blank=True, help_text="comma-separated candidate terms")


class ObservedJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObservedJob
        fields = ["id", "job_id", "source", "backend_name", "circuits", "n_circuits", "shots", "observed_seconds",
                  "observed_from", "job_created_at", "imported_at"]
