from django.contrib import admin

from .models import PurchaseOrder, PurchaseOrderLine, ReorderParameter, Supplier, SupplierItem


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "nip", "email", "currency", "lead_time_days", "active")
    search_fields = ("name", "nip", "email")


@admin.register(SupplierItem)
class SupplierItemAdmin(admin.ModelAdmin):
    list_display = (
        "supplier",
        "variant",
        "supplier_sku",
        "unit_cost",
        "min_order_qty",
        "pack_size",
        "preferred",
    )
    list_filter = ("supplier",)
    search_fields = ("variant__sku", "supplier_sku")


@admin.register(ReorderParameter)
class ReorderParameterAdmin(admin.ModelAdmin):
    list_display = ("variant", "warehouse", "mode", "method", "reorder_point", "safety_stock", "computed_at")
    list_filter = ("mode", "method")
    search_fields = ("variant__sku",)


class LineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    readonly_fields = ("variant", "sku", "quantity", "unit_cost", "received_qty")


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ("number", "supplier", "status", "expected_date", "created_at")
    list_filter = ("status", "supplier")
    search_fields = ("number",)
    readonly_fields = ("number", "status", "sent_at", "received_at", "email")
    inlines = [LineInline]
