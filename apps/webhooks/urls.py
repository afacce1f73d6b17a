from django.urls import path, re_path

from apps.webhooks import api

ID = r"[0-9]{1,18}"

urlpatterns = [
    path("webhooks", api.EndpointListView.as_view(), name="webhooks-list"),
    re_path(rf"^webhooks/(?P<webhook_id>{ID})$", api.EndpointView.as_view(), name="webhooks-endpoint"),
    re_path(rf"^webhooks/(?P<webhook_id>{ID})/deliveries$", api.DeliveryListView.as_view(),
            name="webhooks-deliveries"),
    re_path(rf"^webhooks/(?P<webhook_id>{ID})/deliveries/(?P<delivery_id>{ID})/replay$",
            api.DeliveryReplayView.as_view(), name="webhooks-replay"),
]
