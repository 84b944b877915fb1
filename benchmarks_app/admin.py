from django.contrib import admin

from .models import CalibrationSnapshot, CircuitAlias, Job, WorkerHeartbeat


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress_current", "progress_total", "created_at")
    list_filter = ("kind", "status")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("hostname", "pid", "note", "created_at")


@admin.register(CalibrationSnapshot)
class CalibrationSnapshotAdmin(admin.ModelAdmin):
    """Provenance at a glance; staff promote uploads (public: may become "latest" for everyone) or hide them."""

    list_display = ("id", "backend", "calibrated_at", "source_kind", "uploader", "team", "visibility", "hidden")
    list_filter = ("source_kind", "visibility", "hidden")
    search_fields = ("backend__name", "uploader__username")
    exclude = ("data", "edges")
    actions = ("promote", "hide", "unhide")

    @admin.action(description="Promote: make public (may become the backend's latest for everyone)")
    def promote(self, request, queryset):
        n = queryset.update(visibility=CalibrationSnapshot.Visibility.PUBLIC, hidden=False)
        self.message_user(request, f"{n} snapshot(s) promoted")

    @admin.action(description="Hide (drops out of latest and leaderboards for everyone but staff and uploader)")
    def hide(self, request, queryset):
        self.message_user(request, f"{queryset.update(hidden=True)} snapshot(s) hidden")

    @admin.action(description="Show again")
    def unhide(self, request, queryset):
        self.message_user(request, f"{queryset.update(hidden=False)} snapshot(s) shown")


@admin.register(CircuitAlias)
class CircuitAliasAdmin(admin.ModelAdmin):
    list_display = ("circuit", "owner", "name", "created_at")
    search_fields = ("name", "owner__username")
