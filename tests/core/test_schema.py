"""The OpenAPI schema generates without warnings; Swagger UI is served with offline assets."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client


def test_schema_validates_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/auth/tokens:", "/api/v1/auth/refresh:", "/api/v1/health:", "/api/v1/auth/jwk:"):
        assert path in text


def test_schema_endpoint(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Ledgerdoc API"
    assert "bearerAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_swagger_ui_is_served_from_the_sidecar(settings, tmp_path):
    # As deployed: collectstatic, then WhiteNoise serves the collected files (no CDN, no network).
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--noinput", verbosity=0)
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html.lower()
    assets = re.findall(r"""(?:src|href)=["']([^"']*drf_spectacular_sidecar[^"']*)["']""", html)
    assert assets, "Swagger UI assets must come from drf-spectacular-sidecar"
    assert not re.search(r"""(?:src|href)=["']https?://""", html), "no CDN assets"
    script = next(a for a in assets if a.endswith(".js"))
    asset = client.get(script)
    assert asset.status_code == 200
    body = b"".join(asset.streaming_content) if asset.streaming else asset.content
    assert len(body) > 1000


# --- The schema tells the truth (issue 13) ----------------------------------------------------

_METHODS = {"get", "put", "post", "delete", "patch"}
_PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def openapi(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield f"{method.upper()} {path}", operation


def _is_problem(response: dict) -> bool:
    content = response.get("content", {})
    return list(content) == ["application/problem+json"] and (
        content["application/problem+json"]["schema"] == {"$ref": _PROBLEM_REF}
    )


def test_problem_schema_is_the_handlers_shape(openapi):
    problem = openapi["components"]["schemas"]["Problem"]
    assert problem["required"] == ["title", "status", "detail"]
    assert problem["properties"]["status"]["type"] == "integer"
    assert problem["additionalProperties"] is True  # extra members (failedStep, expected offset...)


def test_every_error_response_is_a_problem(openapi):
    wrong = [
        f"{name} {code}"
        for name, operation in _operations(openapi)
        for code, response in operation["responses"].items()
        if int(code) >= 400 and not _is_problem(response)
    ]
    assert not wrong


def test_every_operation_that_takes_credentials_documents_401_403_429(openapi):
    missing = []
    for name, operation in _operations(openapi):
        if any(operation.get("security", [])):
            missing += [f"{name} {code}" for code in ("401", "403", "429") if code not in operation["responses"]]
    assert not missing


@pytest.mark.parametrize("name", [
    "POST /api/v1/auth/tokens", "POST /api/v1/auth", "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
])
def test_login_and_tokens_document_401(openapi, name):
    operation = dict(_operations(openapi))[name]
    assert _is_problem(operation["responses"]["401"])


def test_every_operation_documents_400_and_404_where_the_path_names_something(openapi):
    for name, operation in _operations(openapi):
        assert "400" in operation["responses"], name
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in operation["responses"], name
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), name


@pytest.mark.parametrize(("name", "statuses"), [
    ("DELETE /api/v1/models/{table}/{record}", {"409"}),
    ("PATCH /api/v1/tus/{upload_id}", {"409", "410", "412", "413", "415", "460"}),
    ("DELETE /api/v1/tus/{upload_id}", {"410", "412"}),
    ("GET /api/v1/uploads/{upload_id}", {"410"}),
    ("PUT /api/v1/uploads/{upload_id}/chunks/{chunk_order}", {"409", "410", "413", "422"}),
    ("POST /api/v1/uploads/{upload_id}/copy", {"409", "410"}),
    ("POST /ws/dms/files", {"404", "409"}),
    ("GET /api/v1/auth/jwk", {"404"}),
])
def test_operations_document_what_they_answer_beyond_the_general_statuses(openapi, name, statuses):
    assert statuses <= set(dict(_operations(openapi))[name]["responses"])


def _schema_of(openapi: dict, ref_or_schema: dict) -> dict:
    if "$ref" in ref_or_schema:
        return openapi["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    return ref_or_schema


def _body_schema(openapi: dict, name: str) -> dict:
    body = dict(_operations(openapi))[name]["requestBody"]["content"]["application/json"]["schema"]
    return _schema_of(openapi, body)


def test_presigned_chunk_url_is_a_uri_template_not_a_uri(openapi):
    created = dict(_operations(openapi))["POST /api/v1/uploads"]["responses"]["201"]
    schema = _schema_of(openapi, created["content"]["application/json"]["schema"])
    presigned = schema["properties"]["presignedURL"]
    assert presigned.get("format") == "uri-template"
    assert "{chunkOrder}" in presigned["description"]


def test_location_enums(openapi):
    upload = _body_schema(openapi, "POST /api/v1/uploads")["properties"]["uploadLocation"]
    copy = _body_schema(openapi, "POST /api/v1/uploads/{upload_id}/copy")["properties"]["copyLocation"]
    for field in (upload, copy):
        choices = set()
        for part in field.get("oneOf", [field]):
            choices |= set(_schema_of(openapi, part).get("enum", []))
        assert {"ARCHIVE", "ATTACHMENT", "IMAGE"} <= choices


def test_upload_create_constraints(openapi):
    schema = _body_schema(openapi, "POST /api/v1/uploads")
    assert set(schema["required"]) == {"fileName", "fileSize"}
    assert schema["properties"]["fileSize"]["type"] == "integer"
    assert schema["properties"]["fileName"]["maxLength"] == 1000


def test_workflow_user_to_and_value_are_not_nullable(openapi):
    forward = _body_schema(openapi, "PUT /api/v1/workflow/forward/{node_id}")
    choice = _body_schema(openapi, "PUT /api/v1/workflow/setuserchoice/{node_id}")
    for schema, field in ((forward, "userTo"), (choice, "value")):
        assert field in schema["required"]
        prop = schema["properties"][field]
        assert prop.get("nullable") is False
        assert {part.get("type") for part in prop["oneOf"]} >= {"integer", "string"} or (
            {part.get("type") for part in prop["oneOf"]} >= {"number", "string"}
        )


def test_table_path_parameter_is_an_enum_of_registered_tables(openapi):
    from apps.records.registry import all_table_specs

    tables = {spec.table_name for spec in all_table_specs()}
    assert "C_BPartner" in tables
    for name, operation in _operations(openapi):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] == "table":
                assert set(parameter["schema"]["enum"]) == tables, name
                assert parameter["description"] and parameter["example"] in tables


def test_every_path_parameter_is_described(openapi):
    bare = [
        f"{name} {parameter['name']}"
        for name, operation in _operations(openapi)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and not (parameter.get("description") and "example" in parameter)
    ]
    assert not bare


def test_integer_headers_are_ascii_digits(openapi):
    patch = dict(_operations(openapi))["PATCH /api/v1/tus/{upload_id}"]
    offset = next(p for p in patch["parameters"] if p["name"] == "Upload-Offset")
    assert offset["required"] is True
    assert offset["schema"]["pattern"] == "^[0-9]{1,18}$"
