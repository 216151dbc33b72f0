"""Lookups over rendered Kubernetes objects (plain dicts)."""

from infra.mock_runtime import AUTONAMED_ANNOTATION


def is_autonamed(manifest: dict) -> bool:
    return (manifest["metadata"].get("annotations") or {}).get(AUTONAMED_ANNOTATION) == "true"


def logical_name(manifest: dict) -> str:
    """The name the program gives an object: for one Pulumi names, without its suffix."""
    name = manifest["metadata"]["name"]
    return name.rsplit("-", 1)[0] if is_autonamed(manifest) else name


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and logical_name(o) == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def pod_templates(objects: list[dict]) -> dict[str, dict]:
    """Every workload's pod template, by "Kind/name"."""
    templates = {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    templates.update(
        (f"CronJob/{o['metadata']['name']}", o["spec"]["jobTemplate"]["spec"]["template"])
        for o in objects
        if o["kind"] == "CronJob"
    )
    return templates


def containers(template: dict) -> list[dict]:
    spec = template["spec"]
    return spec.get("initContainers", []) + spec["containers"]
