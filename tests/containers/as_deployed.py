"""`docker run` settings taken from the rendered Deployments (infra.mock_runtime),
so that the containers here run exactly as their pods would: the same user, the
read-only root with an in-memory filesystem wherever the pod mounts an emptyDir,
the same capabilities, memory and CPU limits, command and environment. A change
to the Deployments changes these tests' containers with them."""

import functools

from infra import mock_runtime


@functools.cache
def _deployments() -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o
        for o in mock_runtime.run().kubernetes_objects()
        if o["kind"] == "Deployment"
    }


def pod_spec(deployment: str) -> dict:
    return _deployments()[deployment]["spec"]["template"]["spec"]


def container(deployment: str, name: str | None = None) -> dict:
    containers = pod_spec(deployment)["containers"]
    return next(c for c in containers if c["name"] == (name or deployment))


def user(deployment: str) -> tuple[int, int]:
    context = pod_spec(deployment)["securityContext"]
    return context["runAsUser"], context["runAsGroup"]


def environment(deployment: str, name: str | None = None) -> dict[str, str]:
    return {variable["name"]: variable["value"] for variable in container(deployment, name)["env"]}


def _bytes(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    return int(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity)


def _cpus(quantity: str) -> str:
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else quantity


def run_arguments(deployment: str, name: str | None = None) -> list[str]:
    """The `docker run` options that make a container behave as the pod's."""
    spec = pod_spec(deployment)
    this = container(deployment, name)
    context = this["securityContext"]
    uid, gid = user(deployment)
    arguments = ["--user", f"{uid}:{gid}"]
    if context["readOnlyRootFilesystem"]:
        arguments.append("--read-only")
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    for mount in this["volumeMounts"]:
        empty_dir = volumes[mount["name"]].get("emptyDir")
        if empty_dir is not None:
            size = _bytes(empty_dir.get("sizeLimit", "64Mi"))
            arguments += ["--tmpfs", f"{mount['mountPath']}:rw,noexec,nosuid,size={size}"]
    for capability in context["capabilities"]["drop"]:
        arguments += ["--cap-drop", capability]
    if context["allowPrivilegeEscalation"] is False:
        arguments += ["--security-opt", "no-new-privileges"]
    limits = this["resources"]["limits"]
    arguments += ["--memory", str(_bytes(limits["memory"])), "--cpus", _cpus(limits["cpu"])]
    return arguments
