from rest_framework import serializers

from ..models import Job


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
