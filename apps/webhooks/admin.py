from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from apps.core.errors import BadRequest
from apps.webhooks import services
from apps.webhooks.events import endpoints_cache_clear, events_normalize
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.signing import secret_validate
from apps.webhooks.urlcheck import url_validate


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "description", "events", "secret", "is_active")

    def clean(self):
        data = super().clean()
        try:
            if "url" in data:
                url_validate(data["url"])
            if "events" in data:
                data["events"] = events_normalize(data["events"])
            if data.get("secret"):
                secret_validate(data["secret"])
        except BadRequest as exc:
            raise ValidationError(str(exc.detail)) from exc
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "client", "is_active", "created")
    list_filter = ("client", "is_active")
    fields = ("client", "url", "description", "events", "secret", "is_active")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        endpoints_cache_clear(obj.client_id)

    def delete_model(self, request, obj):
        client_id = obj.client_id
        super().delete_model(request, obj)
        endpoints_cache_clear(client_id)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "endpoint", "client", "status", "attempts", "response_code", "created")
    list_filter = ("status", "event_type", "client")
    readonly_fields = ("endpoint", "message_id", "event_type", "body", "status", "attempts", "response_code",
                       "last_error", "next_attempt_at", "delivered_at")
    actions = ("replay",)

    @admin.action(description="Replay the selected deliveries (same webhook-id)")
    def replay(self, request, queryset):
        for delivery in queryset:
            services.delivery_replay(delivery=delivery)
        self.message_user(request, f"{queryset.count()} deliveries queued again.", messages.SUCCESS)
