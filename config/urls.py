from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core.api import HealthView
from apps.core.errors import json_problem_view

api_v1 = [
    path("health", HealthView.as_view(), name="health"),
    path("", include("apps.accounts.urls")),
    # Before records: /models/{table}/{id}/print would otherwise match its column route.
    path("", include("apps.processes.urls")),
    path("", include("apps.records.urls")),
    path("", include("apps.workflow.urls")),
    path("", include("apps.uploads.urls")),
    path("", include("apps.dms.urls")),
    path("", include("apps.webhooks.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/ui/", permanent=False)),
    path("ui/", include("apps.ui.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script from its own URL (?script=): no inline script, so the
    # page works under the Content-Security-Policy (apps.core.security_headers).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="ui/api_docs.html"),
        name="swagger-ui",
    ),
    path("api/v1/", include(api_v1)),
    # Foreign dialects that live outside /api/v1 (Axelor /ws/..., Twake /internal/...).
    path("", include("apps.dms.dialect_urls")),
]

handler400 = json_problem_view(400, "Bad Request", "The request could not be understood.")
handler403 = json_problem_view(403, "Forbidden", "Permission denied.")
handler404 = json_problem_view(404, "Not Found", "No such resource.")
handler500 = json_problem_view(500, "Internal Server Error", "An unexpected error occurred.")
