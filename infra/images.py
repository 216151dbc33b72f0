"""The two service images: built from the repository's Dockerfiles and brought
to the cluster (loaded into kind/minikube, or pushed to a registry)."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_docker as docker

# Build inputs that never reach an image (the root .dockerignore drops them too).
IGNORED_PARTS = {"__pycache__", "build", ".pytest_cache"}
IGNORED_SUFFIXES = (".pyc", ".pyo")


def _is_build_input(path: Path) -> bool:
    return (
        path.is_file()
        and not IGNORED_PARTS.intersection(path.parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
        and not path.name.endswith(IGNORED_SUFFIXES)
    )


def content_tag(repo_root: Path, service_dir: str, build_args: dict[str, str]) -> str:
    """A tag that changes exactly when what goes into the image changes: the
    service's directory (with its Dockerfile), the shared package, the
    .dockerignore and the build arguments. Never `latest`."""
    digest = hashlib.sha256()
    paths = [repo_root / ".dockerignore"]
    for directory in (service_dir, "service-common"):
        paths.extend(path for path in (repo_root / directory).rglob("*") if _is_build_input(path))
    for path in sorted(set(paths)):
        if path.exists():
            digest.update(path.relative_to(repo_root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    for name, value in sorted(build_args.items()):
        digest.update(f"{name}={value}\0".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ServiceImageArgs:
    service: str  # the directory holding its Dockerfile, also the image's name
    repo_root: Path
    build_context: str  # the repository root, relative to the program's working directory
    cluster: str  # StackConfig.cluster
    kind_cluster_name: str
    registry: str | None = None
    registry_username: str | None = None
    registry_password: pulumi.Output | None = None
    python_image: str | None = None


class ServiceImage(pulumi.ComponentResource):
    """`ref` is what a pod spec uses; `ready` is what the pods must wait for."""

    ref: pulumi.Output
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:images:ServiceImage", name, None, opts)
        build_args = {"PYTHON_IMAGE": args.python_image} if args.python_image else {}
        tag = content_tag(args.repo_root, args.service, build_args)
        repository = (
            f"{args.registry.rstrip('/')}/{args.service}" if args.registry else args.service
        )
        push = args.cluster == "remote"
        registry = None
        if push and args.registry_username:
            registry = docker.RegistryArgs(
                server=args.registry.split("/")[0],
                username=args.registry_username,
                password=args.registry_password,
            )
        image = docker.Image(
            args.service,
            image_name=f"{repository}:{tag}",
            build=docker.DockerBuildArgs(
                context=args.build_context,
                dockerfile=f"{args.build_context}/{args.service}/Dockerfile",
                # The content tag doubles as the OCI version label. The git revision
                # is left to CI: as a build argument here it would rebuild on every commit.
                args={**build_args, "VERSION": tag},
            ),
            skip_push=not push,
            registry=registry,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready = [image]
        if push:
            # The registry's digest: immutable, and what the nodes verify.
            self.ref = image.repo_digest
        else:
            self.ref = image.image_name
            loader = _loader_command(args)
            if loader is not None:
                load = command.local.Command(
                    f"{args.service}-load",
                    create=image.image_name.apply(lambda ref: f"{loader} {ref}"),
                    triggers=[image.image_name],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[image]),
                )
                self.ready = [load]
        self.register_outputs({"ref": self.ref})


def _loader_command(args: ServiceImageArgs) -> str | None:
    """How a locally built image gets into the cluster's container runtime.
    Docker Desktop's cluster shares the engine the image was built in."""
    if args.cluster == "kind":
        return f"kind load docker-image --name {args.kind_cluster_name}"
    if args.cluster == "minikube":
        return "minikube image load"
    return None
