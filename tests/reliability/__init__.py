"""Reliability under load and faults: real processes on loopback."""
