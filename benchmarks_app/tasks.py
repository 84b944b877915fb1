"""Celery tasks of benchmarks_app."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="benchmarks_app.heartbeat")
def heartbeat(note: str = "") -> dict:
    """Write a WorkerHeartbeat row from the worker: proves broker -> worker -> database works."""
    from celery import current_task

    task_id = current_task.request.id if current_task and current_task.request else ""
    beat = services.heartbeat_record(task_id=task_id or "", note=note)
    return {"id": beat.pk, "hostname": beat.hostname, "pid": beat.pid}
