"""Seed the beat schedule: ingest every configured IBM backend periodically (editable in the admin)."""
from django.conf import settings
from django.db import migrations

TASK_NAME = "Ingest IBM Quantum calibrations"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hours = max(int(round(getattr(settings, "IBM_INGEST_INTERVAL_HOURS", 6))), 1)
    schedule, _ = IntervalSchedule.objects.get_or_create(every=hours, period="hours")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": "benchmarks_app.ingest_ibm_all", "interval": schedule,
                                  "description": "Every configured backend (IBM_INGEST_BACKENDS); one failing backend "
                                                 "does not stop the others; network errors retry with backoff."})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("benchmarks_app", "0002_backend_calibrationsnapshot_circuit_costestimate_and_more"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
