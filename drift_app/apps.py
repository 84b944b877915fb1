from django.apps import AppConfig


class DriftAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "drift_app"
    verbose_name = "Drift watches, alerts and webhooks"

    def ready(self):
        from benchmarks_app import services

        if evaluate_on_new_snapshot not in services.SNAPSHOT_CREATED_HOOKS:
            services.SNAPSHOT_CREATED_HOOKS.append(evaluate_on_new_snapshot)


def evaluate_on_new_snapshot(snapshot_id: int) -> None:
    """Run after every ingest commits: evaluate the active watches on the new snapshot (on a worker)."""
    from .models import Watch
    from .tasks import evaluate_snapshot

    if Watch.objects.filter(active=True).exists():
        evaluate_snapshot.delay(snapshot_id)
