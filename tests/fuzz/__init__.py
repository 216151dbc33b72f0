"""Fuzzing both services from their own OpenAPI documents, and hostile input over real HTTP."""
