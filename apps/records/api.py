"""Thin views of /api/v1/models, /forms, /caches, /reference and /batch (DESIGN §5)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.test.client import RequestFactory
from django.urls import Resolver404, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.core.errors import ApplicationError, BadRequest, Forbidden, problem_body
from apps.core.models import SYSTEM_CLIENT_ID
from apps.core.openapi import problems
from apps.records import selectors, serializers, services
from apps.records.caches import cache_list, cache_reset
from apps.records.codec import ETAG_KEY, detail_text, storable_text
from apps.records.dictionary import table_meta
from apps.records.sync import ensure_synced
from apps.records.versions import current_etag, none_match

QUERY_OPTIONS = (
    "$select", "$filter", "$orderby", "$top", "$skip", "$expand", "$valrule", "$context", "$skiptoken",
)
PAGE_HEADERS = {
    "page-count": "X-Page-Count",
    "records-size": "X-Records-Size",
    "skip-records": "X-Skip-Records",
    "row-count": "X-Row-Count",
    "array-count": "X-Array-Count",
}


def _param(name: str, description: str, location: str = OpenApiParameter.QUERY) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, location, description=description, required=location == OpenApiParameter.PATH
    )


TABLE = _param("table", "Table name, case-insensitive (e.g. c_bpartner)", OpenApiParameter.PATH)
RECORD = _param("record", "Record id or UUID", OpenApiParameter.PATH)
COLUMN = _param("column", "Column name", OpenApiParameter.PATH)
LIST_PARAMS = [
    _param("$filter", "Filter, e.g. `Name eq 'Joe Block' and IsCustomer eq true`"),
    _param("$select", "Columns to return, comma-separated"),
    _param("$orderby", "e.g. `Name desc,Value`"),
    _param("$top", "Page size (capped by REST_MAX_RECORDS_SIZE)"),
    _param("$skip", "Rows to skip"),
    _param("$expand", "Detail tables or foreign-key columns, with nested options in parentheses"),
    _param("$valrule", "Validation rule id/uuid whose filter applies"),
    _param("$context", "Context variables for $valrule, `Name:value,Other:value`"),
    _param("$skiptoken", "Continue from the previous page (keyset): the token its `Link: rel=next` "
           "header gave; only with the default key order, never with $skip"),
    _param("Prefer", "`count=exact` (default), `planned` (the planner's estimate), `estimated` "
           "(exact up to REST_COUNT_EXACT_LIMIT rows, else planned) or `none` (no count: row-count "
           "and page-count are left out); answered in Preference-Applied", OpenApiParameter.HEADER),
]
DETAIL_PARAMS = [LIST_PARAMS[1], LIST_PARAMS[5]]
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="ETags already held (or `*`): when one is the record's current ETag (weak "
    "comparison), the answer is 304 with that ETag and no body. Not with `$expand`: the tag is "
    "the record's own version, not its expanded rows'.",
)


ETAG_HEADER = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 201],
    description='The row\'s version, e.g. `"3.1767225600000000"`: send it back in If-Match.',
)
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="The ETag of the record as read (or `*`): the change is refused with 412 when the "
    "record changed since. Without it, the change is made whatever the record's version. A body "
    "may carry the same tag as `@odata.etag`.",
)
CREATE_DESCRIPTION = """Inserts a row for the caller's client; detail rows may come as an array under
the detail table's name.

Columns the body does not name take their dictionary default first (`AD_Column.DefaultValue`,
see `GET /api/v1/models/ad_column`): a constant, a login-context variable (`@#AD_Org_ID@`,
`@#M_Warehouse_ID@`, `@#AD_User_ID@`, `@#Date@`), the client's `IsDefault` row of the referenced
table (`@IsDefault@`), the next value of a sequence (`@Sequence=Name@`), or a value the table's
own rules derive (`@Derived: ...@`). So `{"Name": "..."}` creates a business partner and
`{"C_BPartner_ID": 118}` an order. The answer's ETag is the new row's version; the detail rows
the body created follow the record under their table's name (with their ids)."""
UPDATE_DESCRIPTION = """Changes the columns named in the body (PO-JSON names).

A detail table's name with an array edits the record's detail rows in the same transaction:
an item without `id` is added, an item with `id` (or `uid`) is changed, an item with
`"(delete)": true` and its `id` is deleted. Only the record's own detail rows can be named
(another record's or another client's: 404, nothing changed); a refused item refuses the whole
PUT. Items may carry their own `@odata.etag` and their own detail arrays. The answer carries the
detail rows the PUT added or changed (not the deleted ones) under their table's name, as iDempiere
does: an added row's id is there."""


def _if_match(request) -> str | None:
    return request.headers.get("If-Match")


def _with_etag(response: Response, table: str, pk: Any) -> Response:
    etag = current_etag(table_meta(table), pk)
    if etag is not None:
        response["ETag"] = etag
    return response


def _options(request) -> dict[str, str]:
    return {key: request.query_params.get(key) for key in QUERY_OPTIONS if key in request.query_params}


def _count_preference(request) -> str | None:
    """``Prefer: count=...`` (RFC 7240; an unknown value is ignored, as any unknown preference)."""
    for item in request.headers.get("Prefer", "").split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == "count" and value.strip().lower() in selectors.COUNT_MODES:
            return value.strip().lower()
    return None


def _next_link(request, token: str) -> str:
    query = request.GET.copy()
    query.pop("$skip", None)
    query["$skiptoken"] = token
    return request.build_absolute_uri(f"{request.path}?{query.urlencode(safe='$,()')}")


def _listed(request, page: selectors.ListPage) -> HttpResponseBase:
    body = page.body
    link = _next_link(request, page.next_token) if page.next_token else None
    if link and "$skiptoken" in request.query_params:
        body["next-link"] = link  # a keyset client: the link in the body too
    response = _paged(body)
    if link:
        response["Link"] = f'<{link}>; rel="next"'
    if _count_preference(request):
        response["Preference-Applied"] = f"count={page.count}"
    return response


def _paged(body: dict[str, Any]) -> HttpResponseBase:
    records = body["records"]
    if isinstance(records, selectors.RawRecords):
        # Rendered by PostgreSQL: the texts go into the envelope as they are.
        head = json.dumps({k: v for k, v in body.items() if k != "records"}, separators=(",", ":"))
        content = f'{head[:-1]},"records":[{",".join(records)}]}}'
        response: HttpResponseBase = HttpResponse(content.encode(), content_type="application/json")
    else:
        response = Response(body)
    for key, header in PAGE_HEADERS.items():
        if key in body:
            response[header] = str(body[key])
    return response


class ModelsView(APIView):
    @extend_schema(
        operation_id="records_models_list",
        parameters=[LIST_PARAMS[0]],
        responses={200: serializers.ModelsSerializer},
        summary="Exposed tables the role may read: {models: [{id, uid, model-name, name, description}]}",
    )
    def get(self, request):
        ctx = get_context(request)
        ensure_synced()
        models = selectors.models_list(ctx, request.query_params.get("$filter"))
        return Response({"models": models})


class TableView(APIView):
    @extend_schema(
        operation_id="records_table_list",
        parameters=[TABLE, *LIST_PARAMS],
        responses={200: serializers.RecordPageSerializer},
        summary="Records of a table: {page-count, records-size, skip-records, row-count, array-count, records}",
    )
    def get(self, request, table: str):
        page = selectors.record_list(
            get_context(request), table, _options(request),
            count=_count_preference(request) or "exact",
        )
        return _listed(request, page)

    @extend_schema(
        operation_id="records_table_create",
        parameters=[TABLE, ETAG_HEADER],
        request=OpenApiTypes.OBJECT,
        responses={201: serializers.RecordSerializer, **problems(409)},
        summary="Insert a record (detail rows may come as an array under the detail table's name)",
        description=CREATE_DESCRIPTION,
    )
    def post(self, request, table: str):
        ctx = get_context(request)
        written: services.WrittenDetails = {}
        obj = services.record_create(ctx, table, request.data, written=written)
        return _with_etag(
            Response(selectors.render_written(ctx, table, obj, written), status=status.HTTP_201_CREATED),
            table, obj.pk,
        )


class RecordView(APIView):
    @extend_schema(
        operation_id="records_record_retrieve",
        parameters=[TABLE, RECORD, *DETAIL_PARAMS, IF_NONE_MATCH, ETAG_HEADER],
        responses={
            200: serializers.RecordSerializer,
            304: OpenApiResponse(description="Not modified: If-None-Match named the current ETag"),
        },
        summary="One record; the ETag header is its version, for If-Match and If-None-Match",
    )
    def get(self, request, table: str, record: str):
        ctx = get_context(request)
        options = _options(request)
        # The tag is read before the row: should the row change in between, the tag is the older
        # one and a change sent with it is refused (412), never one that overwrites unseen data.
        # It is read through the caller's scope first, so another client's row is a 404, never 304.
        etag = selectors.record_etag(ctx, table, record)
        if etag is not None and "$expand" not in options and none_match(request.headers.get("If-None-Match"), etag):
            not_modified = Response(status=status.HTTP_304_NOT_MODIFIED)
            not_modified["ETag"] = etag
            return not_modified
        response = Response(selectors.record_detail(ctx, table, record, options))
        if etag is not None:
            response["ETag"] = etag
        return response

    @extend_schema(
        operation_id="records_record_update",
        parameters=[TABLE, RECORD, IF_MATCH, ETAG_HEADER],
        request=OpenApiTypes.OBJECT,
        responses={200: serializers.RecordSerializer, **problems(409, 412)},
        summary="Partial update; detail arrays add, change and `(delete)` rows; `doc-action` runs the action",
        description=UPDATE_DESCRIPTION,
    )
    def put(self, request, table: str, record: str):
        ctx = get_context(request)
        written: services.WrittenDetails = {}
        obj = services.record_update(ctx, table, record, request.data, if_match=_if_match(request), written=written)
        return _with_etag(Response(selectors.render_written(ctx, table, obj, written)), table, obj.pk)

    @extend_schema(
        operation_id="records_record_destroy",
        parameters=[TABLE, RECORD, IF_MATCH],
        responses={200: serializers.DeletedSerializer, **problems(409, 412)},
        summary="Delete a record (with If-Match: only the version read)",
    )
    def delete(self, request, table: str, record: str):
        services.record_delete(get_context(request), table, record, if_match=_if_match(request))
        return Response({"msg": "Deleted"})


class RecordColumnView(APIView):
    @extend_schema(
        operation_id="records_column_retrieve",
        parameters=[TABLE, RECORD, COLUMN, ETAG_HEADER],
        responses={200: OpenApiTypes.OBJECT},
        summary="One column of a record; the ETag header is the record's version",
    )
    def get(self, request, table: str, record: str, column: str):
        ctx = get_context(request)
        body = selectors.record_column(ctx, table, record, column)
        etag = selectors.record_etag(ctx, table, record)
        response = Response(body)
        if etag is not None:
            response["ETag"] = etag
        return response


class FormsView(APIView):
    @extend_schema(
        operation_id="records_forms_list",
        parameters=[LIST_PARAMS[0]],
        responses={200: serializers.FormsSerializer},
        summary="Forms (AD_Form)",
    )
    def get(self, request):
        forms = selectors.forms_list(get_context(request), request.query_params.get("$filter"))
        return Response({"forms": forms})


class CachesView(APIView):
    @staticmethod
    def _admin_scope(request) -> int | None:
        """The client whose caches the caller administers; None for the System client's admin (all)."""
        ctx = get_context(request)
        if not ctx.is_admin:
            raise Forbidden("Only administrator roles may see or reset caches.")
        return None if ctx.client_id == SYSTEM_CLIENT_ID else ctx.client_id

    @extend_schema(
        operation_id="records_caches_list",
        parameters=[
            _param("table_name", "Only caches of this table"),
            _param("name", "Only caches with this name"),
        ],
        responses={200: serializers.CachesSerializer},
        summary="Caches of this process (admin roles only; a client's admin sees its own client's entries)",
    )
    def get(self, request):
        client_id = self._admin_scope(request)
        params = request.query_params
        return Response(
            {"caches": cache_list(params.get("table_name"), params.get("name"), client_id=client_id)}
        )

    @extend_schema(
        operation_id="records_caches_reset",
        parameters=[
            _param("table_name", "Only caches of this table"),
            _param("record_id", "Only this record"),
        ],
        responses={200: serializers.CachesResetSerializer},
        summary="Reset caches (admin roles only): {entriesReset}",
    )
    def delete(self, request):
        client_id = self._admin_scope(request)
        params = request.query_params
        return Response(
            {"entriesReset": cache_reset(params.get("table_name"), params.get("record_id"), client_id=client_id)}
        )


class ReferenceView(APIView):
    @extend_schema(
        operation_id="records_reference_retrieve",
        parameters=[_param("reference", "Reference id, UUID or name", OpenApiParameter.PATH)],
        responses={200: serializers.ReferenceSerializer},
        summary="A list reference's values: {name, reflist: [{value, name}]}",
    )
    def get(self, request, reference: str):
        ctx = get_context(request)
        ensure_synced()
        return Response(selectors.reference_values(ctx, reference))


def _relative_to_v1(path: str) -> str:
    """A batch step's path as the routes under /api/v1/ see it: ``models/...``, ``/api/v1/models/...``
    and ``v1/models/...`` (relative to /api/, as iDempiere's Postman collection sends it) alike."""
    path = path.lstrip("/")
    path = path.removeprefix("api/")
    return path.removeprefix("v1/").lstrip("/")


def _shown(value: Any) -> str:
    """A client's value echoed in a message: printable as UTF-8 (lone surrogates escaped), short."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")[:200]


class _StepFailed(Exception):
    def __init__(self, index: int, result: dict[str, Any]) -> None:
        super().__init__(index)
        self.index = index
        self.result = result


class BatchView(APIView):
    MAX_STEPS = 100
    # Only the record calls of §5 (models, models/{table}, .../{id}, .../{id}/{column}): their effects
    # are rows, which the batch's transaction can roll back, and their answers are JSON. Auth calls,
    # uploads, documents, attachments (file storage a rollback cannot undo, streamed bytes) and
    # workflow are not reachable through a batch.
    ALLOWED_ROUTES = frozenset({"records-models", "records-table", "records-record", "records-column"})
    factory = RequestFactory()

    @staticmethod
    def _not_allowed(index: int, step: dict[str, Any], why: str) -> BadRequest:
        return BadRequest(
            f"Step {index}: path '{_shown(step.get('path'))}' is not allowed in a batch ({why})."
        )

    def _step(self, request, index: int, step: Any) -> dict[str, Any]:
        if not isinstance(step, dict):
            raise BadRequest(f"Step {index}: expected an object {{method, path, body}}.")
        method = str(step.get("method", "GET")).upper()
        path = str(step.get("path", "")).strip()
        if method not in {"GET", "POST", "PUT", "DELETE"}:
            raise BadRequest(f"Step {index}: method '{_shown(method)}' is not supported.")
        path = _relative_to_v1(path)
        if not storable_text(path):
            raise BadRequest(f"Step {index}: the path has a NUL character or a lone surrogate.")
        if not path:
            raise self._not_allowed(index, step, "only models/... calls are")
        full = "/api/v1/" + path
        try:
            match = resolve(full.split("?")[0])
        except Resolver404:
            return {
                "status": "Not Found",
                "statusCode": 404,
                "body": problem_body(404, "Not Found", f"No route for '{path}'."),
            }
        if match.url_name not in self.ALLOWED_ROUTES or not path.startswith("models"):
            raise self._not_allowed(index, step, "only models/... calls are")
        body = step.get("body")
        data = json.dumps(body) if body is not None else ""
        headers = self._step_headers(index, step)
        sub = (
            getattr(self.factory, method.lower())(full, data=data, content_type="application/json", headers=headers)
            if method != "GET"
            else self.factory.get(full, headers=headers)
        )
        sub._force_auth_user = request.user
        sub._force_auth_token = request.auth
        response = match.func(sub, *match.args, **match.kwargs)
        if hasattr(response, "render"):
            response.render()
        try:
            payload = json.loads(response.content or b"null")
        except ValueError:
            payload = None
        code = response.status_code
        result = {"status": HTTPStatus(code).phrase, "statusCode": code, "body": payload}
        # A step that read or wrote one record reports its version, as the call's ETag header
        # would: a later step (or call) sends it back as If-Match.
        if response.has_header("ETag"):
            result["headers"] = {"ETag": response["ETag"]}
        return result

    @staticmethod
    def _step_headers(index: int, step: dict[str, Any]) -> dict[str, str]:
        """A step's own If-Match: ``headers: {"If-Match": ...}`` or ``"@odata.etag"`` beside the
        path (a body's ``@odata.etag`` is read by the record service itself). Other headers of a
        step (Content-Type, Accept, ...) change nothing: every step is JSON, run as the caller."""
        given = step.get("headers")
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise BadRequest(f"Step {index}: 'headers' must be an object.")
        headers = {}
        for name, value in given.items():
            if str(name).lower() != "if-match":
                continue
            if not isinstance(value, str) or not storable_text(value) or not value.isascii():
                raise BadRequest(f"Step {index}: If-Match must be text.")
            headers["If-Match"] = value
        etag = step.get(ETAG_KEY)
        if etag is not None and "If-Match" not in headers:
            if not isinstance(etag, str) or not etag.isascii() or not storable_text(etag):
                raise BadRequest(f"Step {index}: '{ETAG_KEY}' must be text.")
            headers["If-Match"] = etag
        return headers

    def _step_or_problem(self, request, index: int, step: Any) -> dict[str, Any]:
        """Without a transaction each step stands alone: a refused step is a result, not the end."""
        try:
            with transaction.atomic():
                return self._step(request, index, step)
        except ApplicationError as exc:
            return {
                "status": HTTPStatus(exc.status).phrase,
                "statusCode": exc.status,
                "body": problem_body(exc.status, exc.title, exc.detail),
            }

    @extend_schema(
        operation_id="records_batch",
        parameters=[_param("transaction", "false: run each step on its own")],
        request=serializers.BatchStepSerializer(many=True),
        responses={200: serializers.BatchResultSerializer(many=True), **problems(404, 405, 409, 412)},
        summary="Run several calls; by default all-or-nothing in one transaction",
    )
    def post(self, request):
        get_context(request)
        steps = request.data
        if not isinstance(steps, list) or not steps:
            raise BadRequest("The body must be a non-empty array of {method, path, body}.")
        if len(steps) > self.MAX_STEPS:
            raise BadRequest(f"A batch has at most {self.MAX_STEPS} steps.")
        atomic = str(request.query_params.get("transaction", "true")).lower() not in {"false", "0", "n", "no"}
        if not atomic:
            return Response([self._step_or_problem(request, i, step) for i, step in enumerate(steps)])
        results: list[dict[str, Any]] = []
        try:
            with transaction.atomic():
                for index, step in enumerate(steps):
                    try:
                        result = self._step(request, index, step)
                    except ApplicationError as exc:
                        result = {
                            "status": HTTPStatus(exc.status).phrase,
                            "statusCode": exc.status,
                            "body": problem_body(exc.status, exc.title, exc.detail),
                        }
                    results.append(result)
                    if result["statusCode"] >= 400:
                        raise _StepFailed(index, result)
        except _StepFailed as failed:
            code = failed.result["statusCode"]
            code = code if 400 <= code < 500 else 400
            step = steps[failed.index] if isinstance(steps[failed.index], dict) else {}
            inner = failed.result.get("body") or {}
            detail = detail_text(inner.get("detail")) if isinstance(inner, dict) else None
            return Response(
                problem_body(
                    code,
                    HTTPStatus(code).phrase,
                    f"Step {failed.index} ({_shown(step.get('method', 'GET'))} {_shown(step.get('path', ''))}) failed: {detail}; "
                    "nothing was saved.",
                    failedStep=failed.index,
                    # Rolled back: the versions the steps reported never were.
                    results=[{k: v for k, v in r.items() if k != "headers"} for r in results],
                ),
                status=code,
                content_type="application/problem+json",
            )
        return Response(results)
