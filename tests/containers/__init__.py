"""Tier 4: both service images built from their Dockerfiles and run the way their Deployments run them."""
