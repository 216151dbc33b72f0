.PHONY: up down test bench

# Deploy everything to a local kind cluster.
up:
	scripts/up

# Remove the deployment and the kind cluster.
down:
	scripts/down

# The whole test suite; installs what it needs on a fresh Debian machine.
test:
	scripts/test

# Throughput and latency figures with same-run baselines (not part of the tests).
bench:
	bench/run
