"""Tier 4: both service images, built from their Dockerfiles and run as Deployments run them."""
