from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.accounts import services
from apps.accounts.models import (
    AuthSession,
    Client,
    Organization,
    Role,
    RoleOrgAccess,
    RoleTableAccess,
    SysConfig,
    User,
    UserRole,
    Warehouse,
)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("id", "value", "name", "language", "storage_quota", "is_active")
    list_filter = ("is_active",)
    search_fields = ("value", "name")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("id", "value", "name", "client", "is_active")
    list_filter = ("client", "is_active")
    search_fields = ("value", "name")


class RoleOrgAccessInline(admin.TabularInline):
    model = RoleOrgAccess
    extra = 0


class RoleTableAccessInline(admin.TabularInline):
    model = RoleTableAccess
    extra = 0


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "client", "is_admin", "is_all_tables", "is_all_orgs",
                    "approval_amount", "is_active")
    list_filter = ("client", "is_admin", "is_all_tables", "is_active")
    search_fields = ("name",)
    inlines = (RoleOrgAccessInline, RoleTableAccessInline)


@admin.register(RoleOrgAccess)
class RoleOrgAccessAdmin(admin.ModelAdmin):
    list_display = ("role", "org", "is_read_only")
    list_filter = ("role__client",)


@admin.register(RoleTableAccess)
class RoleTableAccessAdmin(admin.ModelAdmin):
    list_display = ("role", "table_name", "can_read", "can_write")
    list_filter = ("role", "can_write")
    search_fields = ("table_name",)


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("id", "value", "name", "client", "org", "is_active")
    list_filter = ("client", "is_active")
    search_fields = ("value", "name")


class UserRoleInline(admin.TabularInline):
    model = UserRole
    fk_name = "user"
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("id", "username", "email", "client", "supervisor", "is_active", "is_staff")
    list_filter = ("client", "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "email", "first_name", "last_name")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Tenant", {"fields": ("client", "supervisor")}))
    inlines = (UserRoleInline,)


@admin.register(UserRole)
class UserRoleAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "is_default", "default_org", "is_active")
    list_filter = ("role__client", "is_active")
    search_fields = ("user__username", "role__name")


@admin.register(AuthSession)
class AuthSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "client", "role", "org", "created", "last_refresh", "expires",
                    "revoked_at", "revoked_reason")
    list_filter = ("client", "revoked_reason")
    search_fields = ("user__username",)
    readonly_fields = ("refresh_jti",)
    actions = ("revoke",)

    @admin.action(description="Revoke the selected sessions")
    def revoke(self, request, queryset):
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason="revoked by staff"
        )


@admin.register(SysConfig)
class SysConfigAdmin(admin.ModelAdmin):
    list_display = ("name", "value", "client", "description", "is_active", "updated")
    list_filter = ("client", "is_active")
    search_fields = ("name", "value", "description")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.sysconfig_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.sysconfig_cache_clear()
