from django.contrib import admin

from .models import Candidate, FrontSnapshot, SearchRun, TeamAdmin


@admin.register(SearchRun)
class SearchRunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "team", "visibility", "status", "dataset", "backend_name", "generation",
                    "generations_total", "candidates_evaluated", "created_at")
    list_filter = ("status", "visibility", "dataset", "backend_name")
    exclude = ("checkpoint",)


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "generation", "accuracy", "c_total_s", "params_total", "pareto_rank", "on_front")
    list_filter = ("on_front", "runnable")


admin.site.register(TeamAdmin)


@admin.register(FrontSnapshot)
class FrontSnapshotAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "backend_name", "snapshot_calibrated_at", "trigger", "status", "front_size",
                    "n_candidates", "compute_seconds")
    list_filter = ("status", "trigger", "backend_name")
    exclude = ("results",)
