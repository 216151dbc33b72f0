"""Every image a pod runs is pinned: by registry digest, or, for the project's own two
images built into a local cluster (infra/images.py), by their content tag."""

import re
from collections.abc import Mapping

from .pod_policy import pod_policy
from .workloads import containers

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# A local cluster has no registry and so no digest: infra/images.py tags these images
# with the first 16 hex digits of their build context's hash instead (and checkov's
# digest check is skipped for them in infra/pods.py LOCAL_IMAGE_SKIPS for the same reason).
LOCAL_SERVICE_IMAGES = ("items-service", "audit-service")
CONTENT_TAGGED = re.compile(rf"^(?:{'|'.join(LOCAL_SERVICE_IMAGES)}):[0-9a-f]{{16}}$")


def tag_of(image: str) -> str | None:
    """The tag of an image reference (`name:tag@digest`), None when it has none."""
    name = image.split("@", 1)[0]
    last_part = name.rsplit("/", 1)[-1]
    return last_part.split(":", 1)[1] if ":" in last_part else None


def image_problem(image) -> str | None:
    if not isinstance(image, str) or not image:
        return "has no image"
    if tag_of(image) == "latest":
        return f"runs {image}: the `latest` tag names no particular build"
    if DIGEST.search(image) or CONTENT_TAGGED.match(image):
        return None
    return f"runs {image}: pin it by digest (name:tag@sha256:...)"


def _pinned_images(_kind: str, spec: Mapping) -> list[str]:
    problems = []
    for container in containers(spec):
        problem = image_problem(container.get("image"))
        if problem:
            problems.append(f"container {container.get('name')} {problem}")
    return problems


POLICIES = [
    pod_policy(
        "images-pinned-by-digest",
        "Every image is pinned by digest (never `latest`, never a bare or mutable tag); "
        "only the project's own images in a local cluster go by their content tag.",
        _pinned_images,
    ),
]
