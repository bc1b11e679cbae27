"""URLs under /api/v1/ that match no operation answer with the API's JSON error shape, not an HTML page."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/api/v1/no-such-thing"),
        ("get", "/api/v1/orders/1/2/3/no-such-action"),
        ("post", "/api/v1/no/such/path/"),
        ("delete", "/api/v1/products/x/y/z"),
        ("get", "/api/v1/"),
    ],
)
def test_an_unknown_api_url_is_a_json_404(api, method, url):
    response = getattr(api, method)(url)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "not_found"
    assert url in body["message"]


def test_an_unknown_api_url_is_a_json_404_without_a_token_too(client):
    response = client.post("/api/v1/nothing-here", data="{}", content_type="application/json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_known_operations_and_their_own_404s_still_work(api):
    assert api.get("/api/v1/orders").status_code == 200
    missing = api.get("/api/v1/orders/999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert api.get("/api/v1/openapi.json").status_code == 200


def test_a_url_outside_the_api_keeps_the_html_404(admin_client):
    response = admin_client.get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
