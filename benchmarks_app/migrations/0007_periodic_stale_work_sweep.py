"""Seed the beat schedule: sweep stale queued work every HANAS_SWEEP_INTERVAL_SECONDS (editable in the admin)."""
from django.conf import settings
from django.db import migrations

TASK_NAME = "Re-queue or fail stale queued work"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    seconds = max(int(getattr(settings, "HANAS_SWEEP_INTERVAL_SECONDS", 60)), 5)
    schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": "benchmarks_app.sweep_stale_work", "interval": schedule,
                                  "description": "Jobs and search runs whose task message was lost (broker outage, "
                                                 "killed worker) are queued again; still queued after "
                                                 "HANAS_QUEUED_MAX_SECONDS they fail with a clear error."})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("benchmarks_app", "0006_job_dispatch_tracking"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
