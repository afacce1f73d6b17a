"""What the OpenAPI schema says about failures and parameters, in one place.

:func:`document_problems` is a drf-spectacular postprocessing hook. Every answer of the service that
is not a success is ``application/problem+json`` ``{title, status, detail}`` (apps/core/errors.py);
the hook adds that body (component ``Problem``) to every error response of every operation, and the
statuses any operation of a kind can answer whatever its view does:

- 400 on every operation (malformed input, a hostile Host header, a bad query string);
- 401, 403 and 429 where the operation takes credentials (missing or bad token; the role may not;
  the HTTP Basic failure throttle);
- 404 where the path names something (it may not exist, or not for the caller's tenant);
- 413 and 415 where the operation takes a body (too large; a media type no parser reads).

A view that answers more (409, 410, 412, 422, 460 ...) says so in its own ``extend_schema``; the
hook gives those responses the problem body too. It also describes the path parameters that a view
left bare (:data:`PATH_PARAMETERS`), and makes ``{table}`` an enum of the registered tables.
"""

from __future__ import annotations

from typing import Any

from apps.core.errors import PROBLEM_CONTENT_TYPE

PROBLEM_COMPONENT = "Problem"
PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_COMPONENT}"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details: every error of the service has this shape; some "
    "carry more members (e.g. the expected offset, the missing chunks).",
    "properties": {
        "title": {"type": "string", "description": "The HTTP reason phrase or a short summary."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {
            "description": "A sentence, or the input errors keyed by field (a validation failure)."
        },
    },
    "required": ["title", "status", "detail"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Bad Request: the input is malformed or invalid",
    401: "Unauthorized: no credentials, or credentials that are not (or no longer) valid",
    403: "Forbidden: the caller's role may not do this",
    404: "Not Found: no such resource for the caller",
    409: "Conflict: the resource is not in a state that allows this",
    410: "Gone: the resource has expired",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
    429: "Too Many Requests (Retry-After tells when to try again)",
    460: "Checksum Mismatch",
    503: "Service Unavailable",
}

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# Path parameters by name: what they are, and an example from the demo data (``load_demo``).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "table": {"description": "Table name (case-insensitive), e.g. C_BPartner.", "example": "C_BPartner"},
    "record": {"description": "Record id (digits) or uuid.", "example": "1"},
    "record_id": {"description": "Record id (ASCII digits) or uuid.", "example": "1"},
    "column": {"description": "Column name of the table.", "example": "Name"},
    "reference": {"description": "Reference id, uuid or name.", "example": "1"},
    "uid": {"description": "Document uuid.", "example": "00000000-0000-0000-0000-000000000000"},
    "adapter": {"description": "Blob adapter, e.g. 'blob' or 'preview'.", "example": "blob"},
    "repository": {"description": "Repository name ('default').", "example": "default"},
    "doc_path": {"description": "Document path below the root, '/' separated.", "example": "Demo"},
    "upload_id": {"description": "Upload uuid.", "example": "00000000-0000-0000-0000-000000000000"},
    "part_number": {"description": "S3 multipart part number, from 1.", "example": "1"},
    "batch_id": {"description": "Batch uuid.", "example": "00000000-0000-0000-0000-000000000000"},
    "chunk_order": {"description": "Chunk number, from 1.", "example": 1},
    "node_id": {"description": "Workflow activity id (ASCII digits) or uuid.", "example": "1"},
    "user_id": {"description": "User id (ASCII digits), uuid or name.", "example": "GardenUser"},
    "company_id": {"description": "Company (client) id or uuid.", "example": "11"},
    "file_id": {"description": "File id (ASCII digits) or uuid.", "example": "1"},
    "model": {"description": "Table name of the record.", "example": "C_BPartner"},
    "handler": {"description": "Upload handler name ('default').", "example": "default"},
    "index": {"description": "Thumbnail index, from 0.", "example": 0},
    "file_name": {"description": "Attachment file name.", "example": "readme.txt"},
    "slug": {"description": "Process slug: its search key in lower case, other runs of characters "
             "'-'.", "example": "order-detail"},
    "job_id": {"description": "Job id (AD_PInstance_ID, ASCII digits).", "example": "1"},
    "report_file": {"description": "The `reportFile` (a uuid) of a process run.",
                    "example": "00000000-0000-0000-0000-000000000000"},
    "webhook_id": {"description": "Webhook subscription id (ASCII digits).", "example": "1"},
    "delivery_id": {"description": "Webhook delivery id (ASCII digits).", "example": "1"},
    "file_idx": {
        "description": "The file's slot in the batch: Nuxeo clients send 0, 1, ...; any name of "
        "letters, digits, '_' and '-' (at most 40) is accepted.",
        "example": "0",
        "pattern": "^[A-Za-z0-9_-]{1,40}$",
    },
}


def _error_response(status: int, response: dict[str, Any] | None = None) -> dict[str, Any]:
    response = dict(response or {"description": DESCRIPTIONS.get(status, "Error")})
    response.setdefault("description", DESCRIPTIONS.get(status, "Error"))
    if "content" not in response:
        response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}}
    return response


def _takes_credentials(operation: dict[str, Any]) -> bool:
    return any(requirement for requirement in operation.get("security", []))


def _general_statuses(operation: dict[str, Any]) -> set[int]:
    statuses = {400}
    if _takes_credentials(operation):
        statuses |= {401, 403, 429}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 415}
    return statuses


def _table_names() -> list[str]:
    from apps.records.registry import all_table_specs

    return [spec.table_name for spec in all_table_specs()]


def _describe_path_parameter(parameter: dict[str, Any], tables: list[str]) -> None:
    known = PATH_PARAMETERS.get(parameter["name"])
    if known is None:
        return
    if not parameter.get("description"):
        parameter["description"] = known["description"]
    parameter.setdefault("example", known["example"])
    schema = parameter.setdefault("schema", {"type": "string"})
    if "pattern" in known and schema.get("type") == "string":
        schema.setdefault("pattern", known["pattern"])
    if parameter["name"] in ("table", "model") and tables and "enum" not in schema:
        schema["enum"] = tables


def document_problems(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook; see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {})[PROBLEM_COMPONENT] = PROBLEM_SCHEMA
    tables = _table_names()
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    _describe_path_parameter(parameter, tables)
            responses = operation.setdefault("responses", {})
            for status in _general_statuses(operation):
                responses.setdefault(str(status), {})
            for code, response in list(responses.items()):
                if code.isdigit() and int(code) >= 400:
                    responses[code] = _error_response(int(code), response)
            operation["responses"] = dict(sorted(responses.items()))
    return result


def problems(*statuses: int, **described: str) -> dict[int, Any]:
    """Responses for ``extend_schema(responses={200: ..., **problems(409, 410)})``: each status with
    its problem body (added by :func:`document_problems`). ``described`` overrides a description:
    ``problems(s409="Still referenced")``."""
    from drf_spectacular.utils import OpenApiResponse

    wanted = {status: DESCRIPTIONS.get(status, "Error") for status in statuses}
    for key, text in described.items():
        wanted[int(key.lstrip("s"))] = text
    return {status: OpenApiResponse(description=text) for status, text in sorted(wanted.items())}


def digits_header(name: str, description: str = "", *, required: bool = False):
    """A header that carries a non-negative integer: on the wire it is text of ASCII digits (the
    one parser of apps/core/wire.py), so that is what the schema says."""
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        name, str, OpenApiParameter.HEADER, required=required, pattern=r"^[0-9]{1,18}$",
        description=description or "An integer, in ASCII digits.",
    )
