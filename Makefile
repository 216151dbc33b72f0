.PHONY: up down test e2e bench

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

# Throughput and latency figures with same-run baselines (not part of the tests).
bench:
	bench/run
