"""items-service: the public items API, with every request audited through an outbox."""
