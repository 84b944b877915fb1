"""The built-in IBM-documented default execution profile as a row (public, site-wide, global scope)."""
from django.db import migrations


def create_default(apps, schema_editor):
    from cost_engine.execution import DEFAULT_PROFILE

    Profile = apps.get_model("profiles_app", "ExecutionProfile")
    data = DEFAULT_PROFILE.to_dict()
    Profile.objects.get_or_create(name=DEFAULT_PROFILE.name, version=DEFAULT_PROFILE.version, defaults={
        "visibility": "public", "scope": "global", "scope_value": "", "constants": data,
        "c_job_s": data["c_job_s"], "c_instruction_s": data["c_instruction_s"], "terms": ["job"],
        "source": data["source"], "provenance": {"documented": "IBM Quantum guide 'Estimate job run time'"},
        "is_builtin": True})


def remove_default(apps, schema_editor):
    apps.get_model("profiles_app", "ExecutionProfile").objects.filter(is_builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("profiles_app", "0001_execution_profiles_observed_jobs")]
    operations = [migrations.RunPython(create_default, remove_default)]
