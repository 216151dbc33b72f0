"""Fuzzing both services from their own OpenAPI documents with schemathesis."""
