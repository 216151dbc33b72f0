"""Code shared by items-service and audit-service."""
