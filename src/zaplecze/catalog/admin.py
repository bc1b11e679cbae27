from django.contrib import admin

from .models import Category, Product, Variant


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "category", "status")
    search_fields = ("name", "variants__sku")
    inlines = [VariantInline]


admin.site.register(Category)
admin.site.register(Variant)
