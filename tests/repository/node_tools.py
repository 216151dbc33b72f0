"""The Node.js tools scripts/setup/60-node-tools.sh installs outside the repository:
its own Node.js, Renovate and @actions/expressions."""

import json
import os
import subprocess
from pathlib import Path

ROOT = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "items-audit" / "node-tools"
)
NODE = ROOT / "bin" / "node"
MODULES = ROOT / "tools" / "node_modules"
RENOVATE = MODULES / "renovate" / "dist" / "renovate.js"
RENOVATE_CONFIG_VALIDATOR = MODULES / "renovate" / "dist" / "config-validator.js"
ACTIONS_EXPRESSIONS = MODULES / "@actions" / "expressions" / "dist"


def run_node(*args: str | Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`node ARGS...` on the installed Node.js; a missing installation fails the run."""
    if not NODE.exists():
        raise RuntimeError(f"{NODE} is missing (scripts/setup/60-node-tools.sh installs it)")
    return subprocess.run(
        [str(NODE), *map(str, args)], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def actions_expression_holds(expression: str, context: dict) -> bool:
    """Whether a GitHub Actions expression (a job's `if:`) is true in `context`
    ({"github": {...}}), by GitHub's own evaluator (tests/repository/actions_expression.mjs)."""
    result = run_node(
        Path(__file__).with_name("actions_expression.mjs"),
        ACTIONS_EXPRESSIONS,
        input=json.dumps({"expression": expression, "context": context}),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {"true": True, "false": False}[result.stdout]
