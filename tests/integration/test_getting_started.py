"""The brief's own getting-started flow works as written: in a fresh virtualenv,
`cd items-service && pip install -r requirements.txt`, then the same for
audit-service, installs everything each service needs (the shared package
included), and both start with the documented command and serve the assignment's
requests."""

import subprocess
import venv

import pytest
import requests

from tests.support.services import AUDIT_TOKEN, REPOSITORY, ServiceProcess, wait_for


@pytest.fixture(scope="module")
def fresh_environment(tmp_path_factory):
    directory = tmp_path_factory.mktemp("getting-started") / "venv"
    venv.create(directory, with_pip=True)
    pip = [str(directory / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    for service in ("items-service", "audit-service"):
        result = subprocess.run(
            [*pip, "-r", "requirements.txt"],
            cwd=REPOSITORY / service,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
    return directory


def test_the_requirements_install_the_shared_package_and_nothing_is_missing(fresh_environment):
    python = fresh_environment / "bin" / "python"
    check = subprocess.run(
        [str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout
    imports = subprocess.run(
        [str(python), "-c", "import service_common, flask, gunicorn, psycopg2"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imports.returncode == 0, imports.stderr


def test_both_services_start_with_the_documented_command_and_serve_the_flow(
    fresh_environment, database
):
    gunicorn = fresh_environment / "bin" / "gunicorn"
    audit = ServiceProcess(
        "audit-service",
        {"DATABASE_URL": database.url("audit_service"), "AUDIT_TOKEN": AUDIT_TOKEN},
        gunicorn=gunicorn,
    ).start()
    items = ServiceProcess(
        "items-service",
        {
            "DATABASE_URL": database.url("items_service"),
            "AUDIT_TOKEN": AUDIT_TOKEN,
            "AUDIT_SERVICE_URL": audit.url,
        },
        gunicorn=gunicorn,
    ).start()
    try:
        created = requests.post(
            f"{items.url}/items", json={"name": "Test Item", "description": "Testing"}, timeout=10
        )
        assert created.status_code == 201, created.text
        assert requests.get(f"{items.url}/items", timeout=10).json()[0]["name"] == "Test Item"
        wait_for(lambda: database.count("audit_logs") == 2, message="both audit rows")
        rows = database.query("SELECT action, status_code FROM audit_logs ORDER BY occurred_at")
        assert rows == [("item.create", 201), ("item.list", 200)]
    finally:
        items.close()
        audit.close()
