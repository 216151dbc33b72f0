"""audit-service: internal; stores the audit events items-service delivers."""
