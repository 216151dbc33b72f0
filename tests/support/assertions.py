"""Assertions on what a client sees."""

import json


def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with this status; returns its body.
    Works for Flask test responses and requests responses alike."""
    assert response.status_code == status, (response.status_code, _text(response))
    assert response.headers["Content-Type"] == "application/problem+json"
    body = json.loads(_text(response))
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def error_fields(body: dict) -> list:
    return [error["field"] for error in body.get("errors", [])]


def _text(response) -> str:
    data = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    return data
