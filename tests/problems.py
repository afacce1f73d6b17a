"""What every refusal of bad input must look like, shared by the suites' input tests."""

from __future__ import annotations

# Characters ``str.isdigit()`` accepts that are not ASCII digits (superscript, circled,
# Arabic-Indic, full-width): each must be refused as a number, never read as one, never a 500.
UNICODE_DIGITS = ["\u00b2", "\u2460", "\u0663", "\uff11"]


def bad_request(response) -> dict:
    """Assert a 400 problem+json body ``{title, status, detail}``; return it."""
    assert response.status_code == 400, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400 and body["title"] and body["detail"]
    return body
