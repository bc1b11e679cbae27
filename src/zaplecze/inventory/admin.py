from django.contrib import admin

from .models import Reservation, StockLevel, StockMovement, Warehouse

admin.site.register(Warehouse)


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ("variant", "warehouse", "on_hand", "reserved")
    readonly_fields = ("on_hand", "reserved")


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = ("at", "variant", "warehouse", "kind", "quantity", "reference")
    list_filter = ("kind", "warehouse")

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(Reservation)
