from django.apps import AppConfig


class SearchAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "search_app"
    verbose_name = "Hyb-HANAS search runs"

    def ready(self):
        from benchmarks_app import services

        from . import services as search_services

        if rerank_on_new_snapshot not in services.SNAPSHOT_CREATED_HOOKS:
            services.SNAPSHOT_CREATED_HOOKS.append(rerank_on_new_snapshot)
        if rerank_when_finished not in search_services.PROGRESS_LISTENERS:
            search_services.PROGRESS_LISTENERS.append(rerank_when_finished)


def rerank_on_new_snapshot(snapshot_id: int) -> None:
    """After every ingest (live, upload, history): only enqueue; a worker finds the finished runs on that backend
    and re-ranks their fronts (search_app.rerank), so ingest never waits for thousands of candidates."""
    from .tasks import rerank_new_snapshot

    rerank_new_snapshot.delay(snapshot_id)


def rerank_when_finished(run, event: str) -> None:
    """A run finished (after its transaction committed): enqueue its re-ranking on a snapshot newer than its own,
    if one arrived while it ran."""
    if event == "finished":
        from .tasks import rerank_finished_run

        rerank_finished_run.delay(run.pk)
