"""A missing or invalid setting stops the service at start with one line naming it (DESIGN §5)."""

import os
import subprocess

import pytest

from tests.support.services import AUDIT_TOKEN, GUNICORN, REPOSITORY

ITEMS_ENV = {
    "DATABASE_URL": "postgresql://items_service@127.0.0.1:5432/none",
    "AUDIT_SERVICE_URL": "http://127.0.0.1:9",
    "AUDIT_TOKEN": AUDIT_TOKEN,
}
AUDIT_ENV = {"DATABASE_URL": ITEMS_ENV["DATABASE_URL"], "AUDIT_TOKEN": AUDIT_TOKEN}


def start(service: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(GUNICORN), "--config", "gunicorn.conf.py", "app:app"],
        cwd=REPOSITORY / service,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    "service, base, change, message",
    [
        ("items-service", ITEMS_ENV, {"DATABASE_URL": None}, "DATABASE_URL is required"),
        ("items-service", ITEMS_ENV, {"AUDIT_TOKEN": None}, "AUDIT_TOKEN is required"),
        ("items-service", ITEMS_ENV, {"AUDIT_SERVICE_URL": None}, "AUDIT_SERVICE_URL is required"),
        ("items-service", ITEMS_ENV, {"PORT": "http"}, "PORT must be an integer"),
        ("items-service", ITEMS_ENV, {"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be between"),
        ("items-service", ITEMS_ENV, {"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ("items-service", ITEMS_ENV, {"BIND_ADDRESS": "anywhere"}, "BIND_ADDRESS must be an IPv4"),
        ("items-service", ITEMS_ENV, {"TRUSTED_PROXY_COUNT": "x"}, "TRUSTED_PROXY_COUNT must be"),
        ("audit-service", AUDIT_ENV, {"BIND_ADDRESS": "anywhere"}, "BIND_ADDRESS must be an IPv4"),
        ("audit-service", AUDIT_ENV, {"AUDIT_TOKEN": None}, "AUDIT_TOKEN is required"),
        ("audit-service", AUDIT_ENV, {"DATABASE_URL": None}, "DATABASE_URL is required"),
        (
            "audit-service",
            AUDIT_ENV,
            {"AUDIT_TOKEN": None, "AUDIT_TOKEN_FILE": "/no/such/file"},
            "AUDIT_TOKEN_FILE: cannot read /no/such/file",
        ),
    ],
)
def test_the_process_exits_with_one_line_naming_the_setting(service, base, change, message):
    env = {key: value for key, value in {**base, **change}.items() if value is not None}

    result = start(service, env)

    assert result.returncode != 0
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{service}: configuration error: {message}")
