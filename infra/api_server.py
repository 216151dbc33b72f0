"""Where pods reach the Kubernetes API server: its own addresses and ports, as a
NetworkPolicy sees a connection after the `kubernetes` Service's translation.

Read from the cluster's `kubernetes` EndpointSlice (the API server keeps it
current) at every deploy, or taken from the `api_server_cidrs` setting where
that slice does not name what the pods' packets are addressed to (a managed
control plane behind a proxy address, for one)."""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

# The slice the API server maintains for the `kubernetes` Service.
SLICE_ID = "default/kubernetes"
# With addresses from a setting, both ports the API server is commonly served on:
# 443, and 6443 (kubeadm, kind).
DEFAULT_PORTS = (443, 6443)


@dataclass(frozen=True)
class ApiServer:
    cidrs: pulumi.Output  # Output[list[str]]: one /32 or /128 per address, or the setting's
    ports: pulumi.Output  # Output[list[int]]


def host_cidr(address: str) -> str:
    """The CIDR that is exactly this address."""
    parsed = ipaddress.ip_address(address)
    return f"{parsed}/{parsed.max_prefixlen}"


def _field(value, name: str):
    """A field of a slice's endpoint or port: an output type, or a plain dict where
    the SDK left the read state untyped."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def from_slice(endpoints: Sequence | None, ports: Sequence | None) -> tuple[list[str], list[int]]:
    cidrs = sorted(
        {
            host_cidr(address)
            for endpoint in endpoints or ()
            for address in _field(endpoint, "addresses") or ()
        }
    )
    numbers = sorted({int(_field(port, "port")) for port in ports or () if _field(port, "port")})
    if not cidrs or not numbers:
        raise ValueError(
            f"the cluster's EndpointSlice {SLICE_ID} names no API server address and port;"
            " set api_server_cidrs to the API server's addresses"
        )
    return cidrs, numbers


def locate(cidrs: Sequence[str] | None, provider: pulumi.ProviderResource) -> ApiServer:
    """The API server of the cluster `provider` deploys to; `cidrs`: its addresses
    as set in the stack, when given."""
    if cidrs:
        return ApiServer(
            pulumi.Output.from_input(list(cidrs)), pulumi.Output.from_input(list(DEFAULT_PORTS))
        )
    api_slice = k8s.discovery.v1.EndpointSlice.get(
        "kubernetes-api-server", SLICE_ID, opts=pulumi.ResourceOptions(provider=provider)
    )
    found = pulumi.Output.all(api_slice.endpoints, api_slice.ports).apply(
        lambda values: from_slice(values[0], values[1])
    )
    return ApiServer(found.apply(lambda values: values[0]), found.apply(lambda values: values[1]))
