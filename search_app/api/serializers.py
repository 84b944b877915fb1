from django.contrib.auth.models import Group
from rest_framework import serializers

from .. import selectors
from ..models import Candidate, SearchRun


class SearchRunCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=SearchRun.Visibility.choices, default=SearchRun.Visibility.PRIVATE)
    team = serializers.SlugRelatedField(slug_field="name", queryset=Group.objects.all(), required=False,
                                        allow_null=True, default=None)
    config = serializers.JSONField(help_text="search config: dataset, backend, snapshot, space, population, "
                                             "generations, epochs, batch_size, learning_rate, shots, seed, "
                                             "device_profile, max_train_samples, optimization_level")

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("config must be a JSON object")
        return value


class SearchRunSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    team = serializers.CharField(source="team.name", read_only=True, default=None, allow_null=True)
    progress = serializers.SerializerMethodField()
    url = serializers.HyperlinkedIdentityField(view_name="search-detail")

    class Meta:
        model = SearchRun
        fields = ["id", "url", "name", "owner", "team", "visibility", "status", "dataset", "backend_name",
                  "snapshot_id", "snapshot_calibrated_at", "config", "progress", "hypervolume", "reference_point",
                  "objective_space", "config_hash", "error", "created_at", "started_at", "finished_at"]

    def get_progress(self, run) -> dict:
        return selectors.progress(run)


class CandidateSerializer(serializers.ModelSerializer):
    """``accuracy`` is the validation accuracy (the search objective); ``test_accuracy`` the held-out test split.
    ``c_q_wallclock_s``, ``c_c_s`` and ``flops_only`` are the quantum, classical and FLOPs-only costs side by side."""

    class Meta:
        model = Candidate
        fields = ["id", "run", "generation", "genome_key", "genome", "accuracy", "test_accuracy", "train_loss",
                  "params_classical",
                  "params_quantum", "params_total", "c_q_wallclock_s", "c_q_paper_s", "c_c_s", "c_total_s",
                  "flops_only", "runnable", "objectives", "pareto_rank", "on_front", "train_seconds",
                  "cost_seconds", "cost", "quantum_report"]


class CandidateBriefSerializer(serializers.ModelSerializer):
    backend = serializers.CharField(source="run.backend_name", read_only=True)
    dataset = serializers.CharField(source="run.dataset", read_only=True)

    class Meta:
        model = Candidate
        fields = ["id", "run", "dataset", "backend", "generation", "genome", "accuracy", "test_accuracy",
                  "params_total", "c_total_s", "c_q_wallclock_s", "c_c_s", "flops_only", "on_front"]


class DatasetSerializer(serializers.ModelSerializer):
    """An uploaded dataset (the data itself stays on the server); a search config names it by ``ref``."""

    ref = serializers.CharField(read_only=True, help_text='what a search config\'s "dataset" takes: "upload:<id>"')
    owner = serializers.CharField(source="owner.username", read_only=True)
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None)

    class Meta:
        from ..models import Dataset

        model = Dataset
        fields = ["id", "ref", "name", "owner", "team", "size_bytes", "n_samples", "n_features", "n_classes",
                  "label_column", "feature_names", "content_hash", "created_at"]
