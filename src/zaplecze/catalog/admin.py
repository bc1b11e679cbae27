from django.contrib import admin

from .models import Category, Manufacturer, Offer, Product, ProductImage, Variant


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    # Prices change only through catalog.prices (the price history, Omnibus), never by editing the row.
    readonly_fields = ("price",)


class ImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("position", "file", "source_url", "width", "height", "alt", "error")
    readonly_fields = ("width", "height", "error")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "category", "manufacturer", "status", "quality_score")
    list_filter = ("status",)
    search_fields = ("name", "variants__sku")
    inlines = [VariantInline, ImageInline]


@admin.register(Manufacturer)
class ManufacturerAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "city", "email", "eu_rp_name")
    search_fields = ("name",)


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ("variant", "channel", "price", "active", "external_id")
    readonly_fields = ("price",)
    list_filter = ("channel", "active")
    search_fields = ("variant__sku", "external_id")


admin.site.register(Category)


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "price", "active")
    search_fields = ("sku", "ean", "name")
    readonly_fields = ("price",)
