"""Each service's body limit is said once (MAX_BODY_BYTES in its validation
module) and everything that mentions it says the same: the 413 a client gets
with a Content-Length or chunked, the OpenAPI document, and the items pod's proxy."""

import re

import pytest
import requests

from audit_service import validation as audit_validation
from audit_service.openapi import DOCUMENT as AUDIT_OPENAPI
from items_service import validation as items_validation
from items_service.openapi import DOCUMENT as ITEMS_OPENAPI
from service_common.problems import body_too_large, size_text
from tests.support.services import AUDIT_TOKEN, REPOSITORY

SERVICES = [
    pytest.param("items", "/items", items_validation.MAX_BODY_BYTES, ITEMS_OPENAPI, id="items"),
    pytest.param("audit", "/events", audit_validation.MAX_BODY_BYTES, AUDIT_OPENAPI, id="audit"),
]


@pytest.mark.parametrize("service_name, path, limit, document", SERVICES)
def test_an_oversized_body_gets_the_same_answer_whatever_its_framing(
    request, service_name, path, limit, document
):
    service = request.getfixturevalue(service_name)
    body = b"{" + b" " * limit + b"}"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {AUDIT_TOKEN}"}
    with_length = requests.post(f"{service.url}{path}", data=body, headers=headers, timeout=30)
    # A generator: requests sends it chunked, with no Content-Length.
    chunked = requests.post(
        f"{service.url}{path}", data=(part for part in [body]), headers=headers, timeout=30
    )
    for response in (with_length, chunked):
        assert response.status_code == 413
        assert response.json()["detail"] == body_too_large(limit).detail
    assert requests.get(f"{service.url}/openapi.json", timeout=10).json() == document
    assert size_text(limit) in body_too_large(limit).detail


@pytest.mark.parametrize("service_name, path, limit, document", SERVICES)
def test_the_openapi_document_states_the_limit_the_service_applies(
    service_name, path, limit, document
):
    assert document["info"]["title"] == f"{service_name}-service"
    description = document["paths"][path]["post"]["responses"]["413"]["description"]
    assert f"larger than {size_text(limit)}" in description


def test_the_items_pods_proxy_refuses_at_the_same_limit_with_the_same_words():
    config = (REPOSITORY / "items-proxy" / "nginx.conf").read_text()
    [size] = re.findall(r"client_max_body_size (\d+)k;", config)
    assert int(size) * 1024 == items_validation.MAX_BODY_BYTES
    [answer] = re.findall(r"return 413 '(.*)';", config)
    assert f'"detail": "{body_too_large(items_validation.MAX_BODY_BYTES).detail}"' in answer
