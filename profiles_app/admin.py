from django.contrib import admin

from .models import ExecutionProfile, ObservedJob, TeamDefaultProfile


@admin.register(ExecutionProfile)
class ExecutionProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "owner", "team", "visibility", "scope", "scope_value", "c_job_s",
                    "c_instruction_s", "created_at")
    list_filter = ("visibility", "scope", "is_builtin")


admin.site.register(TeamDefaultProfile)


@admin.register(ObservedJob)
class ObservedJobAdmin(admin.ModelAdmin):
    list_display = ("job_id", "backend_name", "shots", "n_circuits", "observed_seconds", "job_created_at")
    list_filter = ("backend_name", "source")
