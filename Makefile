.PHONY: up down test e2e e2e-pods bench

# Deploy everything to a local kind cluster.
up:
	scripts/up

# Remove the deployment and the kind cluster.
down:
	scripts/down

# The whole test suite: on Debian 12 as root it installs what it needs and runs here;
# anywhere else in a Debian 12 container through your Docker engine (scripts/test).
test:
	scripts/test

# The end-to-end tier on the real Pulumi engine and a simulated cluster (not part of
# `make test`: its first tool build takes hours).
e2e:
	scripts/e2e

# The end-to-end tier on a one-node cluster whose pods really run (kubelet, containerd,
# CNI, NetworkPolicies enforced), built here like the e2e tools; needs root.
e2e-pods:
	scripts/e2e-pods

# Throughput and latency figures with same-run baselines (not part of the tests).
bench:
	bench/run
