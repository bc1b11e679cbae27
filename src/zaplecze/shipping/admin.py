from django.contrib import admin

from .models import Carrier, DeliveryPromise, Shipment, TrackingEvent


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "connector", "active", "transit_days")


@admin.register(DeliveryPromise)
class DeliveryPromiseAdmin(admin.ModelAdmin):
    list_display = ("channel", "delivery_method", "handling_days", "cutoff", "active")


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    readonly_fields = ("at", "status", "raw_status", "location", "message", "source")


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("reference", "carrier", "status", "submission", "tracking_number", "created_at")
    list_filter = ("carrier", "status", "submission")
    search_fields = ("reference", "tracking_number", "external_id")
    readonly_fields = ("order", "reference", "external_id", "attempts", "last_error")
    inlines = [TrackingEventInline]
