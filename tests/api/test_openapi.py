import json

import pytest
from django.test import Client

from tests.security.urlwalk import api_operations

pytestmark = pytest.mark.django_db


def _spec():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def test_openapi_document_is_served_without_a_token_and_lists_every_operation():
    spec = _spec()
    assert spec["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    walked = {
        (op.method, "/" + op.endpoint.route.replace("<int:", "{").replace("<", "{").replace(">", "}"))
        for op in api_operations()
    }
    assert documented == walked
    assert ("PUT", "/api/v1/orders/{channel}/{external_id}") in documented


def test_every_operation_declares_bearer_auth_input_and_output():
    spec = _spec()
    assert spec["components"]["securitySchemes"] == {"BearerToken": {"type": "http", "scheme": "bearer"}}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["security"] == [{"BearerToken": []}], (method, path)
            success = [code for code in op["responses"] if code.startswith("2")]
            assert success, (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            if method in ("post", "put", "patch"):
                assert "requestBody" in op, (method, path)


def test_input_schemas_forbid_unknown_fields():
    schemas = _spec()["components"]["schemas"]
    for name in ("OrderIn", "OrderBodyIn", "OrderPatchIn", "StatusIn", "ProductIn", "AdjustmentIn"):
        assert schemas[name]["additionalProperties"] is False, name


def test_docs_page_uses_no_cdn():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn." not in page and "unpkg" not in page
