#!/bin/sh
# The entrypoint's name in the official image; here it starts the stand-in (not Grafana).
exec python3 -B /usr/share/grafana/bin/grafana-standin.py "$@"
