"""Stand-in commands for tests that run the repository's shell scripts for real:
each a bash `case` over its arguments (or the Pulumi stand-in), every call recorded,
on a PATH with only the system's basic commands besides them."""

import shutil
import subprocess
from pathlib import Path

from tests.support.repository_files import REPOSITORY

STANDIN_PULUMI = REPOSITORY / "tests" / "support" / "pulumi_standin.py"
# The system commands the scripts use besides the tools below, and nothing else:
# a tool a test leaves out is missing, whatever this machine has installed.
SYSTEM_COMMANDS = (
    "bash",
    "dirname",
    "sed",
    "awk",
    "sort",
    "head",
    "grep",
    "mkdir",
    "cat",
    "sha256sum",
    "env",
    "id",
    "cksum",
    "cut",
    "uname",
)
# A uid the user database does not list: the user "without any Pulumi state",
# whose home is a directory of the test's own (see the test using it).
STRANGER_UID = 47_111


class Tools:
    """Stand-in commands on PATH: each a bash `case` over its arguments, or the
    Pulumi stand-in; every call is recorded."""

    def __init__(self, directory: Path):
        self.bin = directory / "bin"
        self.bin.mkdir()
        self.calls = directory / "calls.log"
        self.calls.touch()
        system = directory / "system"
        system.mkdir()
        for name in SYSTEM_COMMANDS:
            (system / name).symlink_to(shutil.which(name, path="/usr/bin:/bin"))
        (system / "python3").symlink_to("/usr/bin/python3")
        self.path = f"{self.bin}:{system}"

    def add(self, name: str, cases: str) -> None:
        self._write(name, f'case "$*" in\n{cases}\n  *) exit 0 ;;\nesac\n')

    def add_pulumi_standin(self) -> None:
        self._write("pulumi", f'exec /usr/bin/python3 "{STANDIN_PULUMI}" "$@"\n')

    def remove(self, name: str) -> None:
        (self.bin / name).unlink()

    def _write(self, name: str, body: str) -> None:
        script = self.bin / name
        script.write_text(f'#!/bin/bash\necho "{name} $*" >>"{self.calls}"\n{body}')
        script.chmod(0o755)

    def called(self) -> list[str]:
        return self.calls.read_text().splitlines()


def fake_infra_virtualenv(checkout: Path) -> None:
    """The program's virtualenv as scripts/up leaves it after installing
    infra/requirements.txt (its python, the requirements' hash), so that a test of the
    scripts installs nothing."""
    venv = checkout / ".venv-infra"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    hashed = subprocess.run(
        ["sha256sum", "infra/requirements.txt"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    (venv / "requirements.sha256").write_text(hashed.stdout)
