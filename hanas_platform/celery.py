"""The Celery application. Broker from CELERY_BROKER_URL; unset means eager, in-process execution."""
import os
import sys

from celery import Celery
from celery.signals import worker_process_init

from hanas_platform.native import preload

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hanas_platform.settings")
# Worker and beat: qiskit's compiled modules on the main thread first (threads crash on them otherwise);
# prefork pool children inherit them.
preload()

app = Celery("hanas_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def limit_torch_threads(**_):
    """Each pool process trains with HANAS_WORKER_TORCH_THREADS threads (default 1): torch's default, one
    thread per core in every process, oversubscribes a machine running several pool processes."""
    from django.conf import settings

    threads = str(settings.HANAS_WORKER_TORCH_THREADS)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads  # read when torch is imported
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
