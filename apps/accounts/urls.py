from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("auth/tokens", api.TokensView.as_view(), name="auth-tokens"),
    path("auth", api.TokensView.as_view(), name="auth"),
    path("auth/roles", api.RolesView.as_view(), name="auth-roles"),
    path("auth/organizations", api.OrganizationsView.as_view(), name="auth-organizations"),
    path("auth/warehouses", api.WarehousesView.as_view(), name="auth-warehouses"),
    path("auth/language", api.LanguageView.as_view(), name="auth-language"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/jwk", api.JwkView.as_view(), name="auth-jwk"),
    path("auth/context", api.ContextView.as_view(), name="auth-context"),
]
