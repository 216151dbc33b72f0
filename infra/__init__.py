"""The Pulumi program that deploys items-service, audit-service, PostgreSQL,
Prometheus and Grafana to Kubernetes (DESIGN §7-8)."""
