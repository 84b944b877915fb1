from django.contrib import admin

from .models import Alert, DeliveryAttempt, Watch, WebhookDelivery


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "team", "target", "circuit", "backend_name", "processor_family", "metric",
                    "threshold_rel", "direction", "active")
    exclude = ("secret",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("id", "watch", "circuit", "backend", "snapshot", "metric", "before", "after", "relative_change",
                    "direction", "created_at")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0


@admin.register(WebhookDelivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "watch", "alert", "status", "attempts", "next_attempt_at", "delivered_at")
    inlines = [AttemptInline]
