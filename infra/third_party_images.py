"""The images a stack runs that this repository does not build: what CI's Trivy job
scans beside the service images it builds itself (.github/workflows/ci.yml).

    python -m infra.third_party_images [--stack-file Pulumi.<stack>.yaml]

Prints them as one JSON list, a GitHub Actions matrix. Read from the same mock run as
`python -m infra.render`, with the same default stack file (the dev stack's
Pulumi.dev.yaml, which runs every component), so an image added to the program is
scanned with no change to the workflow.
"""

import argparse
import json
import sys
from pathlib import Path

from infra import mock_runtime, render

# Every list of containers a pod spec can hold, whatever object carries the spec.
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
BUILT_IMAGE_TYPE = "docker:index/image:Image"


def pod_images(value) -> set[str]:
    """The image of every container anywhere in a manifest (Deployments, StatefulSets,
    Jobs, CronJobs' job templates, bare Pods alike)."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in CONTAINER_LISTS and isinstance(item, list):
                found.update(c["image"] for c in item if isinstance(c, dict) and "image" in c)
            else:
                found |= pod_images(item)
    elif isinstance(value, list):
        for item in value:
            found |= pod_images(item)
    return found


def repository(image: str) -> str:
    """`registry/name` without its tag or digest."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


def third_party_images(run: mock_runtime.Run) -> list[str]:
    """The images the manifests run, less those the program builds from the
    repository's Dockerfiles (whatever tag or digest the build gave them)."""
    built = {repository(r.inputs["imageName"]) for r in run.by_type(BUILT_IMAGE_TYPE)}
    images = set().union(*(pod_images(manifest) for manifest in run.kubernetes_objects()))
    return sorted(image for image in images if repository(image) not in built)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.third_party_images", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--stack-file",
        type=Path,
        default=render.DEV_STACK_FILE,
        help="the stack's settings (default: Pulumi.dev.yaml)",
    )
    args = parser.parse_args(argv)
    config = mock_runtime.stack_config(args.stack_file)
    print(json.dumps(third_party_images(mock_runtime.run(config))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
