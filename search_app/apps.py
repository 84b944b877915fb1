import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


class SearchAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "search_app"
    verbose_name = "Hyb-HANAS search runs"

    def ready(self):
        from benchmarks_app import services

        from . import services as search_services

        services.JOB_TASKS.setdefault("search_front", "search_app.tasks.rerank_front_job")  # dispatch and sweep
        if rerank_on_new_snapshot not in services.SNAPSHOT_CREATED_HOOKS:
            services.SNAPSHOT_CREATED_HOOKS.append(rerank_on_new_snapshot)
        if rerank_when_finished not in search_services.PROGRESS_LISTENERS:
            search_services.PROGRESS_LISTENERS.append(rerank_when_finished)


def rerank_on_new_snapshot(snapshot_id: int) -> None:
    """After every ingest (live, upload, history): only enqueue; a worker finds the finished runs on that backend
    and re-ranks their fronts (search_app.rerank), so ingest never waits for thousands of candidates."""
    from hanas_platform.dispatch import BrokerUnavailable, send

    from .tasks import rerank_new_snapshot

    try:
        send(rerank_new_snapshot, (snapshot_id,), what=f"re-ranking search fronts on snapshot {snapshot_id}")
    except BrokerUnavailable:  # the snapshot is stored; fronts are re-ranked on request or with the next snapshot
        log.warning("broker unavailable: search fronts not re-ranked on snapshot %s", snapshot_id)


def rerank_when_finished(run, event: str) -> None:
    """A run finished (after its transaction committed): enqueue its re-ranking on a snapshot newer than its own,
    if one arrived while it ran."""
    if event == "finished":
        from hanas_platform.dispatch import send

        from .tasks import rerank_finished_run

        send(rerank_finished_run, (run.pk,), what=f"re-ranking search run {run.pk}")  # errors logged by _notify
