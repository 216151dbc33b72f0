"""The parts every workload shares: labels, the DESIGN §7 security baseline,
resources, its Service and ConfigMaps, and the policy-scan exceptions."""

import hashlib
from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

PART_OF = "items-audit"

# Every pod and container runs as this unprivileged user; the service images
# are built for it, and the third-party images support an arbitrary user.
RUN_AS_USER = 10001

# Policy checks (checkov) a workload is exempt from, with the reason: the one
# place they are listed. They become `checkov.io/skipN` annotations, only where the
# reason holds.
POLICY_SKIPS: dict[str, dict[str, str]] = {
    "prometheus": {
        "CKV_K8S_38": "Kubernetes pod discovery authenticates with the service account token "
        "(read-only, namespace-scoped Role)",
    },
}
# A service image built here and loaded into a local cluster (kind, minikube, Docker
# Desktop's shared engine) has no registry. A cluster that pulls the image from a
# registry runs it by digest: there these checks pass and are not skipped.
LOCAL_IMAGE_SKIPS: dict[str, str] = {
    "CKV_K8S_43": "built here and loaded into the cluster without a registry, so it has no "
    "registry digest; its tag is a hash of its build context",
    "CKV_K8S_15": "pull policy Always would make the node pull the locally loaded image "
    "from a registry that does not have it",
}

# Every container's only writable path besides its data volumes (an emptyDir).
TMP_DIR = "/tmp"  # noqa: S108 (a path inside the container, backed by its own emptyDir)


def labels(name: str) -> dict[str, str]:
    """Selector labels of a workload's pods (the team's label convention)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def metadata(
    name: str, namespace, annotations: Mapping[str, str] | None = None, app: str | None = None
) -> k8s.meta.v1.ObjectMetaArgs:
    """Metadata of an object named `name` that belongs to `app` (default: `name`)."""
    return k8s.meta.v1.ObjectMetaArgs(
        name=name, namespace=namespace, labels=labels(app or name), annotations=annotations
    )


def workload_metadata(
    name: str, namespace, image_loaded_locally: bool = False
) -> k8s.meta.v1.ObjectMetaArgs:
    """Metadata of a Deployment/StatefulSet/Job, carrying its policy-scan exceptions
    (LOCAL_IMAGE_SKIPS too when its image was loaded into the cluster without a registry)."""
    skips = {**POLICY_SKIPS.get(name, {}), **(LOCAL_IMAGE_SKIPS if image_loaded_locally else {})}
    annotations = {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(skips.items(), start=1)
    }
    return metadata(name, namespace, annotations or None)


def pod_security_context() -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        fs_group=RUN_AS_USER,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_spec(
    containers: list,
    volumes: list,
    *,
    grace_seconds: int | None = None,
    service_account=None,
    **fields,
) -> k8s.core.v1.PodSpecArgs:
    """A pod spec with the DESIGN §7 baseline: non-root, seccomp RuntimeDefault,
    no Service environment variables, and no API token unless the pod runs
    under a service account of its own (which it then needs); and each
    container's ephemeral storage (ephemeral_storage)."""
    for container in containers:
        storage = ephemeral_storage(container, volumes)
        container.resources.requests["ephemeral-storage"] = storage
        container.resources.limits["ephemeral-storage"] = storage
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        automount_service_account_token=service_account is not None,
        enable_service_links=False,
        security_context=pod_security_context(),
        termination_grace_period_seconds=grace_seconds,
        containers=containers,
        volumes=volumes,
        **fields,
    )


def container_security_context() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


def resources(
    cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str
) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": cpu_request, "memory": memory_request},
        limits={"cpu": cpu_limit, "memory": memory_limit},
    )


# On top of a container's emptyDirs, its logs (the kubelet keeps up to 5 files
# of 10 MiB) and anything written outside its volumes (the root is read-only).
LOG_STORAGE_MI = 64
_QUANTITY_MI = {"Mi": 1, "Gi": 1024}


def _mebibytes(quantity: str) -> int:
    return int(quantity[:-2]) * _QUANTITY_MI[quantity[-2:]]


def ephemeral_storage(container: k8s.core.v1.ContainerArgs, volumes: list) -> str:
    """The node disk a container may fill, as request and limit alike: the size
    limits of the disk-backed emptyDirs it writes, and its logs. The scheduler
    then places the pod where its emptyDirs fit (an emptyDir's sizeLimit alone
    reserves nothing), and the kubelet evicts a pod that outgrows it."""
    writable = {mount.name for mount in container.volume_mounts or () if not mount.read_only}
    empty_dirs = sum(
        _mebibytes(volume.empty_dir.size_limit)
        for volume in volumes
        if volume.name in writable and volume.empty_dir and volume.empty_dir.medium != "Memory"
    )
    return f"{empty_dirs + LOG_STORAGE_MI}Mi"


def empty_dir(name: str, size_limit: str = "64Mi", memory: bool = False) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=name,
        empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
            size_limit=size_limit, medium="Memory" if memory else None
        ),
    )


def secret_volume(name: str, secret_name) -> k8s.core.v1.VolumeArgs:
    # Read-only for owner and group: with fsGroup set, the files belong to the
    # pod's group, so the pod's user can read them and other users cannot.
    return k8s.core.v1.VolumeArgs(
        name=name,
        secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret_name, default_mode=0o440),
    )


def config_map_volume(name: str, config_map_name) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=name,
        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map_name, default_mode=0o444),
    )


def mount(name: str, path: str, read_only: bool = True) -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=name, mount_path=path, read_only=read_only)


def tmp_mount() -> k8s.core.v1.VolumeMountArgs:
    """The writable /tmp, mounted from the pod's `tmp` emptyDir."""
    return mount("tmp", TMP_DIR, read_only=False)


def http_probe(path: str, port: str, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period,
        timeout_seconds=3,
        failure_threshold=failures,
    )


# Changes when a Secret the pods read at start changes, which rolls them.
SECRET_CHECKSUM_ANNOTATION = "items-audit/secret-checksum"  # noqa: S105 (a name)


def checksum(data: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(data.items()):
        digest.update(f"{key}\0{value}\0".encode())
    return digest.hexdigest()[:16]


def secret_checksum_annotation(secret_data: dict[str, pulumi.Input[str]]) -> dict:
    """The pod template annotation for the Secret holding secret_data. A checksum
    of random passwords reveals nothing of them: unsecret, so that a preview shows
    the pods rolling."""
    value = pulumi.Output.unsecret(pulumi.Output.all(**secret_data).apply(checksum))
    return {SECRET_CHECKSUM_ANNOTATION: value}


def drain_pre_stop(seconds: int) -> k8s.core.v1.LifecycleArgs:
    """Keep serving while the endpoint removal reaches every kube-proxy and
    ingress, then let SIGTERM start the graceful shutdown (Kubernetes >= 1.30
    runs the sleep itself, so the image needs no shell)."""
    return k8s.core.v1.LifecycleArgs(
        pre_stop=k8s.core.v1.LifecycleHandlerArgs(
            sleep=k8s.core.v1.SleepActionArgs(seconds=seconds)
        )
    )


def service(
    name: str,
    namespace,
    port: int,
    opts: pulumi.ResourceOptions,
    node_port: int | None = None,
    source_ranges: list[str] | None = None,
) -> k8s.core.v1.Service:
    """The Service `name` in front of the pods labelled `name`, on their `http` port:
    a NodePort on `node_port` when it is given, a LoadBalancer open to
    `source_ranges` when they are, else ClusterIP only."""
    return k8s.core.v1.Service(
        name,
        metadata=metadata(name, namespace),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="NodePort" if node_port else "LoadBalancer" if source_ranges else "ClusterIP",
            selector=labels(name),
            ports=[
                k8s.core.v1.ServicePortArgs(
                    name="http", port=port, target_port="http", node_port=node_port
                )
            ],
            load_balancer_source_ranges=source_ranges,
        ),
        opts=opts,
    )


def config_map(
    name: str, namespace, data: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.core.v1.ConfigMap:
    """A ConfigMap named by Pulumi (`name-<suffix>`): a change of its data creates a
    new one and deletes the old one after the pods have moved, so a pod never
    starts without it (a fixed name would be deleted, then created)."""
    return k8s.core.v1.ConfigMap(
        name, metadata=metadata(None, namespace, app=name), data=data, opts=opts
    )
