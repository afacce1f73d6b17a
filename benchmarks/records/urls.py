from django.urls import include, path
from rest_framework.routers import SimpleRouter

from benchmarks.records.baseline import BPartnerViewSet

router = SimpleRouter(trailing_slash=False)
router.register("baseline/bpartners", BPartnerViewSet, basename="baseline-bpartner")

urlpatterns = [
    path("api/v1/", include("apps.accounts.urls")),
    path("", include(router.urls)),
]
