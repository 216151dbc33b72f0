"""A stand-in for the Pulumi CLI's stack and state commands on a file:// backend,
for tests of scripts/up and scripts/down that must not deploy anything.

It behaves as the real CLI (3.274.0) does where those scripts depend on it; the e2e
tier checks these behaviours against the real CLI (tests/e2e/test_e2e_state_directory.py):
- the backend is $PULUMI_BACKEND_URL, else Pulumi.yaml's backend.url;
- `~` in a file:// URL is the OS user's home: the user database (/etc/passwd, read
  as Go's os/user reads it without cgo), $HOME only for a uid it does not list;
- a state directory that does not exist is an error of every command that opens the
  backend, with the real CLI's message and exit code;
- stacks live in <state>/.pulumi/stacks/<project>/<stack>.json; a stack's settings
  are its Pulumi.<stack>.yaml.
Commands that would deploy (up, destroy, state, stack rm) only succeed; stack outputs
are the dev stack's on kind.

Run as `python3 pulumi_standin.py ARGS...` (tests put a `pulumi` wrapper on PATH); the
standard library only, so that any user may run it with the system's python3.
"""

import json
import os
import re
import sys
from pathlib import Path

VERSION = "v3.274.0"
PROJECT = "items-audit"
OUTPUTS = {
    "items_url": "http://localhost:8080",
    "grafana_url": "http://localhost:3000",
    "prometheus_url": "http://localhost:9090",
    "namespace": "items-audit",
    "grafana_admin_password": "[secret]",
}


class CliError(Exception):
    """An error as the real CLI reports it: `error: <message>` on stderr, and its exit
    code (1, or 6 for a stack that does not exist)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def user_home() -> str:
    uid = str(os.getuid())
    for line in Path("/etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[2] == uid:
            return fields[5]
    return os.environ.get("HOME", "")


def backend_url() -> str:
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    project = Path("Pulumi.yaml").read_text()
    return re.search(r"^backend:\n(?:[ \t]+#.*\n)*[ \t]+url:[ \t]*(\S+)", project, re.M)[1]


def state_directory() -> Path:
    url = backend_url()
    path = url.removeprefix("file://").split("?")[0]
    if path == "~":
        path = user_home()
    elif path.startswith("~/"):
        path = os.path.join(user_home(), path[2:])
    resolved = Path(os.path.abspath(path))
    if not resolved.is_dir():
        raise CliError(
            f'unable to open state directory "{url}" (resolved to "file://{resolved}"):'
            f" stat {resolved}: no such file or directory"
        )
    return resolved


def stacks() -> Path:
    return state_directory() / ".pulumi" / "stacks" / PROJECT


def option(arguments: list[str], name: str) -> str | None:
    return arguments[arguments.index(name) + 1] if name in arguments else None


def require_stack(name: str) -> None:
    if not (stacks() / f"{name}.json").exists():
        raise CliError(f"no stack named '{name}' found", code=6)


def settings(name: str) -> dict:
    """The plain settings of the stack's file (one `  project:key: value` line each,
    as `pulumi config set` writes them), as `pulumi config --json` shows them."""
    stack_file = Path(f"Pulumi.{name}.yaml")
    text = stack_file.read_text() if stack_file.exists() else ""
    return {
        key: {"value": value.strip().strip("\"'"), "secret": False}
        for key, value in re.findall(r"^  ([\w-]+:\w+):[ \t]*(\S.*)$", text, re.M)
    }


def main(arguments: list[str]) -> int:
    words = [word for word in arguments if not word.startswith("-")]
    stack = option(arguments, "--stack")
    match words[:2]:
        case ["version", *_]:
            print(VERSION)
        case ["stack", "ls"]:
            names = sorted(path.stem for path in stacks().glob("*.json"))
            print(json.dumps([{"name": name, "current": False} for name in names], indent=2))
        case ["stack", "init"]:
            name = words[2]
            target = stacks() / f"{name}.json"
            if target.exists():
                raise CliError(f"stack 'organization/{PROJECT}/{name}' already exists")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("{}")
            print(f"Created stack '{name}'", file=sys.stderr)
        case ["stack", "select"]:
            require_stack(words[2])
        case ["config", *_] if "--json" in arguments:
            require_stack(stack)
            print(json.dumps(settings(stack)))
        case ["stack", "output"]:
            require_stack(stack)
            print(json.dumps(OUTPUTS))
        case ["up" | "destroy" | "state", *_] | ["stack", "rm"]:
            require_stack(stack or words[-1])
        case _:
            raise CliError(f"the stand-in does not know `pulumi {' '.join(arguments)}`")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.code)
