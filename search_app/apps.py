from django.apps import AppConfig


class SearchAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "search_app"
    verbose_name = "Hyb-HANAS search runs"

    def ready(self):
        from benchmarks_app import services

        if rerank_on_new_snapshot not in services.SNAPSHOT_CREATED_HOOKS:
            services.SNAPSHOT_CREATED_HOOKS.append(rerank_on_new_snapshot)


def rerank_on_new_snapshot(snapshot_id: int) -> None:
    """After every ingest (live, upload, history): only enqueue; a worker finds the finished runs on that backend
    and re-ranks their fronts (search_app.rerank), so ingest never waits for thousands of candidates."""
    from .tasks import rerank_new_snapshot

    rerank_new_snapshot.delay(snapshot_id)
