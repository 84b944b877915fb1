from django.apps import AppConfig


class ProfilesAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "profiles_app"
    verbose_name = "Execution profiles and observed IBM jobs"
