"""Entry point for the Pulumi CLI (Pulumi.yaml: `main: infra/`)."""

import sys
from pathlib import Path

# The CLI runs this file from infra/; the program imports the repository's
# packages (infra, monitoring) from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.program import deploy  # noqa: E402

deploy()
