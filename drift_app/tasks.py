"""Celery tasks of drift watches: evaluation on a new snapshot, webhook delivery with exponential backoff."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="drift_app.evaluate_snapshot", acks_late=True)
def evaluate_snapshot(snapshot_id: int) -> dict:
    """Evaluate the active watches of a newly ingested snapshot's backend (queued after the ingest commits)."""
    result = services.evaluate_snapshot(int(snapshot_id))
    result["redispatched"] = services.redispatch_due()
    return result


@shared_task(name="drift_app.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: str) -> dict:
    """POST one alert's signed body; a non-2xx answer or a network error is retried with exponential backoff
    (HANAS_WEBHOOK_BACKOFF_S * 2^(n-1), at most HANAS_WEBHOOK_MAX_ATTEMPTS attempts), every attempt logged."""
    result = services.deliver(delivery_id)
    # eager mode (the embedded default) would retry inline at once: there the next ingest re-queues it instead
    if result.get("retry_in") is not None and not self.request.is_eager:
        raise self.retry(countdown=result["retry_in"])
    return result


@shared_task(name="drift_app.redispatch_due_deliveries")
def redispatch_due_deliveries() -> dict:
    """Queue again pending deliveries whose retry is overdue (e.g. a retry message lost with its broker)."""
    return {"queued": services.redispatch_due()}
