"""Reliability under load, faults and hostile input: real processes on loopback."""
