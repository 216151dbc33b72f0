"""Render every Kubernetes object a stack would create, one YAML file each.

    python -m infra.render DIR [--stack-file Pulumi.<stack>.yaml]

Without --stack-file, the dev stack's settings (the tracked Pulumi.dev.yaml): what
`make up` deploys.

Runs the Pulumi program under Pulumi's mock runtime: no cluster, no Pulumi CLI.
Generated secrets are mock placeholders. For review, validation and GitOps diffs.
"""

import argparse
import sys
from pathlib import Path

import yaml

from infra import mock_runtime
from infra.program import REPO_ROOT

TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata")
DEV_STACK_FILE = REPO_ROOT / "Pulumi.dev.yaml"


def canonical(manifest: dict) -> dict:
    """apiVersion, kind and metadata first, every other key sorted: stable diffs."""

    def sort(value):
        if isinstance(value, dict):
            return {key: sort(value[key]) for key in sorted(value)}
        if isinstance(value, list):
            return [sort(item) for item in value]
        return value

    ordered = {key: sort(manifest[key]) for key in TOP_LEVEL_ORDER if key in manifest}
    ordered.update((key, sort(manifest[key])) for key in sorted(manifest) if key not in ordered)
    return ordered


def file_name(manifest: dict) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def render(directory: Path, stack_file: Path = DEV_STACK_FILE) -> list[Path]:
    run = mock_runtime.run(mock_runtime.stack_config(stack_file))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yaml"):
        stale.unlink()
    written = []
    for manifest in run.kubernetes_objects():
        path = directory / file_name(manifest)
        if path.exists():
            raise RuntimeError(f"two objects render to {path.name}")
        path.write_text(yaml.safe_dump(canonical(manifest), sort_keys=False), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.render", description=__doc__.splitlines()[0]
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--stack-file",
        type=Path,
        default=DEV_STACK_FILE,
        help="the stack's settings (default: Pulumi.dev.yaml)",
    )
    args = parser.parse_args(argv)
    written = render(args.directory, args.stack_file)
    print(f"wrote {len(written)} Kubernetes objects to {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
