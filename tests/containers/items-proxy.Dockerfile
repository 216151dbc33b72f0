# A stand-in for the upstream image of the items pod's proxy container
# (nginxinc/nginx-unprivileged, which cannot be pulled here): Debian's nginx on
# the stand-in base the service images are built on in the tests. As upstream,
# it stops gracefully on SIGQUIT. The configuration is mounted, as the pod's
# ConfigMap is, and the command is the pod's: tests/containers/items_proxy.py.
ARG BASE_IMAGE=items-audit-test/debian-python:bookworm-1
FROM ${BASE_IMAGE}
# policy-rc.d: the package must not try to start a server during the build.
# Unpinned: a stand-in takes whatever nginx Debian ships today.
# hadolint ignore=DL3008
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
    && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
STOPSIGNAL SIGQUIT
USER 10001:10001
