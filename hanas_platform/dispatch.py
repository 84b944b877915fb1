"""Queueing Celery tasks from requests and commands: a broker outage becomes a clear, quick error.

``send`` publishes with a bounded retry (settings: CELERY_TASK_PUBLISH_RETRY_POLICY, ~2 s connect timeout) and
raises :class:`BrokerUnavailable` (HTTP 503 through the API's exception handler) when the message could not be
queued. Callers mark the Job or SearchRun they created as failed before re-raising, so nothing is left
``queued`` forever; the periodic sweep (``benchmarks_app.sweep_stale_work``) re-dispatches work whose message
was lost after it was queued.
"""
from __future__ import annotations

import logging

from django.conf import settings

from .api import InputError

log = logging.getLogger(__name__)


class BrokerUnavailable(InputError):
    """The task broker could not take the message (HTTP 503: retry later)."""

    status_code = 503


def send(task, args: tuple = (), *, countdown: float | None = None, what: str = "the task"):
    """``task.apply_async(args)``; a publishing failure raises :class:`BrokerUnavailable` naming ``what``.

    In eager mode the task runs here and its own exceptions propagate unchanged."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return task.apply_async(args, countdown=countdown)
    try:
        # ignore_result: the outcome is a database row (Job, SearchRun); no subscription to the result store
        return task.apply_async(args, countdown=countdown, retry=True, ignore_result=True,
                                retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY)
    except Exception as exc:  # noqa: BLE001 - kombu OperationalError, redis/socket errors: not queued
        log.warning("could not queue %s (%s): %s", what, task.name, exc)
        raise BrokerUnavailable(
            f"could not queue {what}: the task broker is unreachable ({type(exc).__name__}: {exc}); "
            "it was marked failed, nothing runs; retry later") from exc
