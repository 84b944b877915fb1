"""Seed the beat schedule: every minute, queue again webhook deliveries whose retry is overdue (a retry message
lost with a killed worker would otherwise wait for the broker's visibility timeout, an hour by default)."""
from django.db import migrations

TASK_NAME = "Re-queue overdue drift webhooks"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": "drift_app.redispatch_due_deliveries", "interval": schedule,
                                  "description": "Pending webhook deliveries overdue by HANAS_WEBHOOK_REDISPATCH_"
                                                 "AFTER_S are queued again; a delivered one is never re-sent."})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("drift_app", "0001_drift_watches_alerts_webhooks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
