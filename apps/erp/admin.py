"""Admin of the business tables. Orders and lines are written through :mod:`apps.erp.services`,
so the admin keeps DocumentNo, LineNetAmt and GrandTotal right like every other write path.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from apps.accounts import selectors as account_selectors
from apps.core.context import RequestContext
from apps.core.errors import ApplicationError
from apps.core.models import SYSTEM_CLIENT_ID
from apps.erp import services
from apps.erp.models import (
    BPartner,
    BPGroup,
    DocSequence,
    DocType,
    ElementValue,
    Order,
    OrderLine,
    Product,
    ProductCategory,
)

STATE_FIELDS = ("document_no", "doc_status", "doc_action", "is_approved", "processed", "grand_total")
AUDIT_FIELDS = ("uid", "created", "created_by", "updated", "updated_by")


class ServiceErrorsAsMessages:
    """A service refusal (409 processed order, 400 other client) becomes a message, not a 500.

    The admin's change and delete views run in one transaction, so nothing of the refused save
    remains.
    """

    def _refused(self, request: HttpRequest, error: ApplicationError) -> HttpResponse:
        messages.error(request, str(error.detail))
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)

    def changelist_view(self, request, *args, **kwargs):
        try:
            return super().changelist_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)


def _same_client(cleaned: dict[str, Any], field: str, *, allow_system: bool = False) -> None:
    client, target = cleaned.get("client"), cleaned.get(field)
    if client is None or target is None:
        return
    allowed = {client.pk, SYSTEM_CLIENT_ID} if allow_system else {client.pk}
    if target.client_id not in allowed:
        raise forms.ValidationError({field: "Choose a record of the same client."})


@admin.register(BPGroup)
class BPGroupAdmin(admin.ModelAdmin):
    list_display = ("value", "name", "is_default", "client", "org", "is_active")
    list_filter = ("client", "is_default", "is_active")
    search_fields = ("value", "name", "description")
    readonly_fields = AUDIT_FIELDS


class BPartnerForm(forms.ModelForm):
    class Meta:
        model = BPartner
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _same_client(cleaned, "bp_group")
        return cleaned


@admin.register(BPartner)
class BPartnerAdmin(admin.ModelAdmin):
    form = BPartnerForm
    list_display = ("value", "name", "bp_group", "is_customer", "is_vendor", "total_open_balance",
                    "client", "is_active")
    list_filter = ("client", "is_customer", "is_vendor", "bp_group", "is_active")
    list_select_related = ("bp_group", "client")
    search_fields = ("value", "name", "name2", "tax_id", "description")
    readonly_fields = AUDIT_FIELDS


@admin.register(ProductCategory)
class ProductCategoryAdmin(admin.ModelAdmin):
    list_display = ("value", "name", "client", "is_active")
    list_filter = ("client", "is_active")
    search_fields = ("value", "name", "description")
    readonly_fields = AUDIT_FIELDS


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _same_client(cleaned, "product_category")
        return cleaned


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ("value", "name", "product_category", "product_type", "price_list", "client",
                    "is_active")
    list_filter = ("client", "product_type", "product_category", "is_active")
    list_select_related = ("product_category", "client")
    search_fields = ("value", "name", "description")
    readonly_fields = AUDIT_FIELDS


@admin.register(ElementValue)
class ElementValueAdmin(admin.ModelAdmin):
    list_display = ("value", "name", "account_type", "is_summary", "parent", "client", "is_active")
    list_filter = ("client", "account_type", "is_summary", "is_active")
    list_select_related = ("parent", "client")
    search_fields = ("value", "name", "description")
    readonly_fields = AUDIT_FIELDS


@admin.register(DocSequence)
class DocSequenceAdmin(admin.ModelAdmin):
    list_display = ("name", "client", "prefix", "current_next", "increment", "suffix")
    list_filter = ("client",)
    search_fields = ("name",)
    readonly_fields = AUDIT_FIELDS


class DocTypeForm(forms.ModelForm):
    class Meta:
        model = DocType
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _same_client(cleaned, "docno_sequence")
        return cleaned


@admin.register(DocType)
class DocTypeAdmin(admin.ModelAdmin):
    form = DocTypeForm
    list_display = ("name", "doc_base_type", "is_sotrx", "is_default", "docno_sequence", "client",
                    "is_active")
    list_filter = ("client", "doc_base_type", "is_default", "is_active")
    list_select_related = ("docno_sequence", "client")
    search_fields = ("name", "print_name")
    readonly_fields = AUDIT_FIELDS


def _order_locked(order: Order | None) -> bool:
    return order is not None and order.pk is not None and (
        order.doc_status in services.LINES_LOCKED_STATES
    )


class OrderLineFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        client = self.instance.client if self.instance.client_id else None
        for form in self.forms:
            product = getattr(form, "cleaned_data", {}).get("product")
            if client is not None and product is not None and product.client_id not in (
                client.pk, SYSTEM_CLIENT_ID,
            ):
                form.add_error("product", "Choose a product of the order's client.")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    formset = OrderLineFormSet
    fields = ("line", "product", "description", "qty_entered", "qty_ordered", "price_actual",
              "line_net_amt")
    readonly_fields = ("line_net_amt",)
    autocomplete_fields = ("product",)
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return not _order_locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return not _order_locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return not _order_locked(obj) and super().has_delete_permission(request, obj)


class OrderForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _same_client(cleaned, "bpartner")
        _same_client(cleaned, "doc_type_target")
        _same_client(cleaned, "warehouse")
        return cleaned


@admin.register(Order)
class OrderAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    form = OrderForm
    inlines = (OrderLineInline,)
    list_display = ("document_no", "date_ordered", "bpartner", "grand_total", "doc_status",
                    "is_approved", "priority_rule", "is_sotrx", "client")
    list_filter = ("client", "doc_status", "is_approved", "is_sotrx", "priority_rule")
    list_select_related = ("bpartner", "client")
    search_fields = ("document_no", "description", "bpartner__name", "bpartner__value")
    date_hierarchy = "date_ordered"
    autocomplete_fields = ("bpartner",)
    actions = ("complete_orders", "void_orders")

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        frozen = ("client", "org", "bpartner", "date_ordered", "is_sotrx") if _order_locked(obj) else ()
        return (*STATE_FIELDS, *frozen, *AUDIT_FIELDS)

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        services.order_save(order=obj, actor=request.user)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not OrderLine:
            super().save_formset(request, form, formset, change)
            return
        lines = formset.save(commit=False)
        for line in formset.deleted_objects:
            services.order_line_delete(line=line, actor=request.user)
        for line in lines:
            services.order_line_save(line=line, actor=request.user)
        formset.save_m2m()
        form.instance.refresh_from_db(fields=["grand_total"])

    def delete_model(self, request: HttpRequest, obj: Order) -> None:
        services.order_delete(order=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            services.order_delete(order=order)

    @admin.action(description="Complete selected orders (with your role's approval amount)")
    def complete_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            ctx = _admin_context(request, order)
            if ctx is None:
                messages.error(request, f"{order}: you have no role in its client.")
                continue
            try:
                order = services.order_complete(ctx=ctx, order=order)
            except ApplicationError as error:
                messages.error(request, f"{order}: {error.detail}")
                continue
            messages.info(request, f"{order}: {order.get_doc_status_display()}")

    @admin.action(description="Void selected orders")
    def void_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            try:
                services.order_void(order=order, actor=request.user)
            except ApplicationError as error:
                messages.error(request, f"{order}: {error.detail}")


def _admin_context(request: HttpRequest, order: Order) -> RequestContext | None:
    """The admin user acting in the order's client with the first role they hold there."""
    roles = account_selectors.user_client_roles(request.user, order.client_id)
    if not roles:
        return None
    role = roles[0]
    return RequestContext(
        user_id=request.user.pk, client_id=order.client_id, role_id=role.pk, org_id=order.org_id,
        warehouse_id=None, language="en_US", user=request.user, role=role,
    )


class OrderLineForm(forms.ModelForm):
    class Meta:
        model = OrderLine
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        order, product = cleaned.get("order"), cleaned.get("product")
        if order is not None and product is not None and product.client_id not in (
            order.client_id, SYSTEM_CLIENT_ID,
        ):
            self.add_error("product", "Choose a product of the order's client.")
        return cleaned


@admin.register(OrderLine)
class OrderLineAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    form = OrderLineForm
    list_display = ("order", "line", "product", "qty_ordered", "price_actual", "line_net_amt",
                    "client")
    list_filter = ("client", "order__doc_status")
    list_select_related = ("order", "product", "client")
    search_fields = ("order__document_no", "product__name", "description")
    autocomplete_fields = ("order", "product")
    fields = ("order", "line", "product", "description", "qty_entered", "qty_ordered",
              "price_actual", "line_net_amt", *AUDIT_FIELDS)
    readonly_fields = ("line_net_amt", *AUDIT_FIELDS)

    def save_model(self, request: HttpRequest, obj: OrderLine, form, change: bool) -> None:
        services.order_line_save(line=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: OrderLine) -> None:
        services.order_line_delete(line=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OrderLine]) -> None:
        for line in queryset:
            services.order_line_delete(line=line, actor=request.user)
