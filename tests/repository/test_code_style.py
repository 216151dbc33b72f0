"""The whole codebase passes the linter and the formatter configured in
pyproject.toml, and every shell script passes shellcheck."""

import subprocess
import sys
from pathlib import Path

from tests.support.repository_files import REPOSITORY, repository_files

RUFF = Path(sys.executable).with_name("ruff")
SHELLCHECK = Path(sys.executable).with_name("shellcheck")


def shell_scripts() -> list[str]:
    """Every tracked file that is a shell script (by its #! line, or sourced by one)."""
    scripts = []
    for name in repository_files():
        with open(REPOSITORY / name, "rb") as file:
            first = file.readline()
        if name.endswith(".sh") or first.startswith((b"#!/usr/bin/env bash", b"#!/bin/sh")):
            scripts.append(name)
    return scripts


def ruff(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RUFF), *arguments],
        cwd=REPOSITORY,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_check_passes_on_the_whole_codebase():
    result = ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_the_whole_codebase_unchanged():
    result = ruff("format", "--no-cache", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_configured_rules_catch_what_they_are_for():
    # An unused import (F), a call of an HTTP client with no timeout (S),
    # and a mutable default argument (B), in a file outside tests/.
    source = "import os\nimport requests\n\n\ndef f(x=[]):\n    return requests.get(x)\n"
    result = ruff(
        "check", "--no-cache", "--stdin-filename", "service-common/probe.py", stdin=source
    )
    assert result.returncode == 1
    for rule in ("F401", "S113", "B006"):
        assert rule in result.stdout


def test_every_shell_script_passes_shellcheck():
    scripts = shell_scripts()
    assert {"scripts/up", "scripts/down", "database/migrate.sh", "e2e/build-tools"} <= set(scripts)
    result = subprocess.run(
        [str(SHELLCHECK), "--external-sources", "--severity=info", *scripts],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
