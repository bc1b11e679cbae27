from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, AuditEntry, Job, User


@admin.register(User)
class ZaplUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Zaplecze", {"fields": ("role", "language")}))
    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_label", "object_type", "object_id", "action")
    list_filter = ("object_type", "action")
    search_fields = ("object_id", "actor_label")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(ApiToken)
admin.site.register(Job)
