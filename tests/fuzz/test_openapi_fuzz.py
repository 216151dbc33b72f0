"""Each service is fuzzed from its own /openapi.json by schemathesis: every check
(server errors, status codes, content types, headers, response schemas, negative
data rejected, positive data accepted, ...) in every phase, the stateful one
included (items-service's OpenAPI links chain create -> read -> update ->
delete), a fixed number of examples per operation and a fixed seed of this
test's own, so a failure reproduces.

DESIGN §2: the only 5xx a client may ever see is 503 while the database is
down; here it is up, so any 5xx is a failure, as is any answer the document
does not describe.
"""

import re
import subprocess
import sys
from pathlib import Path

from tests.support.services import AUDIT_TOKEN

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SEED = 20261202
EXAMPLES_PER_OPERATION = 40


def fuzz(base_url: str, workdir: Path, *headers: str) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
    ]
    for header in headers:
        command += ["--header", header]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)


def assert_clean(result: subprocess.CompletedProcess, service_logs: str) -> None:
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"{report}\n--- service log (tail) ---\n{service_logs[-4000:]}"
    assert "No issues found" in report, report


def test_items_service_matches_its_openapi_document(items, tmp_path):
    result = fuzz(items.url, tmp_path)
    assert_clean(result, items.logs())
    stateful = re.search(r"Stateful \(in [^)]*\)\s+Scenarios:\s+(\d+)", result.stdout)
    assert stateful and int(stateful.group(1)) > 0, "the stateful phase ran:\n" + result.stdout
    links = re.search(r"API Links:\s+(\d+) covered", result.stdout)
    assert links and int(links.group(1)) > 0, "it followed the document's links"


def test_audit_service_matches_its_openapi_document(audit, tmp_path):
    result = fuzz(audit.url, tmp_path, f"Authorization: Bearer {AUDIT_TOKEN}")
    assert_clean(result, audit.logs())
