"""Benchmarks: `bench/run` (or `.venv/bin/python -m bench`) for the HTTP figures,
`python -m bench.images` for the container images. Not part of the test suite."""
