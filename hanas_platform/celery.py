"""The Celery application. Broker from CELERY_BROKER_URL; unset means eager, in-process execution."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hanas_platform.settings")

app = Celery("hanas_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
