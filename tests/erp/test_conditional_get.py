"""``If-None-Match`` on ``GET /api/v1/models/{table}/{id}``: 304 while the record is the version
the client holds (weak comparison, RFC 9110 §13.1.2), 200 once it changed; never across tenants."""

from __future__ import annotations

import pytest

BP_URL = "/api/v1/models/c_bpartner"


def _read(client, url: str, **headers):
    return client.get(url, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


@pytest.fixture
def joe_url(joe) -> str:
    return f"{BP_URL}/{joe.pk}"


@pytest.mark.parametrize("held", ["{tag}", "W/{tag}", '"x.1", {tag}', "*", "{bare}"])
def test_current_tag_is_304_with_the_tag_and_no_body(garden_user, joe_url, held):
    tag = garden_user.get(joe_url)["ETag"]
    response = _read(garden_user, joe_url, if_none_match=held.format(tag=tag, bare=tag.strip('"')))
    assert response.status_code == 304
    assert response["ETag"] == tag
    assert response.content == b""


def test_by_uid_too(garden_user, joe):
    tag = garden_user.get(f"{BP_URL}/{joe.pk}")["ETag"]
    assert _read(garden_user, f"{BP_URL}/{joe.uid}", if_none_match=tag).status_code == 304


def test_200_after_the_row_changed(garden_user, joe_url):
    old = garden_user.get(joe_url)["ETag"]
    assert garden_user.put(joe_url, {"Name2": "changed"}, format="json").status_code == 200
    response = _read(garden_user, joe_url, if_none_match=old)
    assert response.status_code == 200, response.content
    assert response.json()["Name2"] == "changed"
    assert response["ETag"] != old
    assert _read(garden_user, joe_url, if_none_match=response["ETag"]).status_code == 304


def test_200_with_a_tag_that_does_not_match(garden_user, joe_url):
    response = _read(garden_user, joe_url, if_none_match='"1.1767225600000000", W/"other"')
    assert response.status_code == 200, response.content
    assert response.json()["Name"] == "Joe Block"


def test_with_expand_always_200(garden_user, joe_url):
    """The tag is the row's own version; expanded rows change without it."""
    tag = garden_user.get(joe_url)["ETag"]
    response = _read(garden_user, f"{joe_url}?$expand=C_Order", if_none_match=tag)
    assert response.status_code == 200
    assert "C_Order" in response.json()


@pytest.mark.parametrize("held", ["{tag}", "*"])
def test_another_tenants_record_stays_404(garden_user, acme_admin, joe_url, held):
    tag = garden_user.get(joe_url)["ETag"]
    response = _read(acme_admin, joe_url, if_none_match=held.format(tag=tag))
    assert response.status_code == 404, response.content
    assert "ETag" not in response
    assert {"title", "status", "detail"} <= set(response.json())


@pytest.mark.parametrize("held", ["", " ", '""', "a, , b", "x" * 1100])
def test_malformed_if_none_match_is_400(garden_user, joe_url, held):
    response = _read(garden_user, joe_url, if_none_match=held)
    assert response.status_code == 400, response.content
    assert "If-None-Match" in response.json()["detail"]
