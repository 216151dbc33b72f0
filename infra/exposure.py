"""How users outside the cluster reach a Service: a fixed node port (local
clusters), an Ingress in front of a ClusterIP Service, or a cloud load balancer
open to the address ranges the stack names (config.ITEMS_EXPOSURES)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import pods

NODE_PORT = "node-port"
INGRESS = "ingress"
LOAD_BALANCER = "load-balancer"


@dataclass(frozen=True)
class PublicExposure:
    kind: str  # NODE_PORT | INGRESS | LOAD_BALANCER
    node_port: int | None = None  # NODE_PORT: the fixed port kind/cluster.yaml maps
    # INGRESS: the host name its rule answers for; LOAD_BALANCER: a DNS name of the
    # balancer's address (None: the address it gets).
    host: str | None = None
    ingress_class: str | None = None  # None: the cluster's default IngressClass
    tls_secret: str | None = None  # INGRESS: a kubernetes.io/tls Secret; then HTTPS
    source_ranges: list[str] | None = None  # LOAD_BALANCER: who may connect

    def service_fields(self) -> dict:
        """The arguments of pods.service that give the Service its type."""
        if self.kind == NODE_PORT:
            return {"node_port": self.node_port}
        if self.kind == LOAD_BALANCER:
            return {"source_ranges": self.source_ranges}
        return {}

    def ingress(
        self, name: str, namespace, opts: pulumi.ResourceOptions
    ) -> k8s.networking.v1.Ingress | None:
        """The Ingress in front of the Service `name` (its `http` port), for INGRESS."""
        if self.kind != INGRESS:
            return None
        backend = k8s.networking.v1.IngressBackendArgs(
            service=k8s.networking.v1.IngressServiceBackendArgs(
                name=name, port=k8s.networking.v1.ServiceBackendPortArgs(name="http")
            )
        )
        return k8s.networking.v1.Ingress(
            name,
            metadata=pods.metadata(name, namespace),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=self.ingress_class,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=self.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/", path_type="Prefix", backend=backend
                                )
                            ]
                        ),
                    )
                ],
                tls=[
                    k8s.networking.v1.IngressTLSArgs(hosts=[self.host], secret_name=self.tls_secret)
                ]
                if self.tls_secret
                else None,
            ),
            opts=opts,
        )

    def url(
        self, service: k8s.core.v1.Service, port: int, node_port_url: str | None
    ) -> pulumi.Input[str]:
        """Where users reach the Service: node_port_url for NODE_PORT (the host port
        a local cluster maps it to), the Ingress's host, or the balancer's address."""
        if self.kind == NODE_PORT:
            return node_port_url
        if self.kind == INGRESS:
            return f"{'https' if self.tls_secret else 'http'}://{self.host}"
        if self.host:
            return f"http://{self.host}:{port}"
        return service.status.apply(lambda status: f"http://{_balancer_address(status)}:{port}")


def _balancer_address(status) -> str:
    ingress = status.load_balancer.ingress[0]
    return ingress.hostname or ingress.ip
