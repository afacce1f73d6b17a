from __future__ import annotations

BP_URL = "/api/v1/models/c_bpartner"


def names(client, url: str = BP_URL, **params) -> list[str]:
    params.setdefault("$orderby", "Name")
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return [record["Name"] for record in response.json()["records"]]


def problem(client, url: str, status: int = 400, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"]
    return body["detail"]
