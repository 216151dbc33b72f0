# The Debian 12 machine `make test` needs, as a container (scripts/test-in-container):
# what scripts/setup/*.sh would install is installed here once, so that a run starts at
# once; the checkout, the Docker engine's socket and the caches are mounted at run time.
# Built on debian:12, or, where no registry is reachable, on the stand-in base
# scripts/setup/35-base-image.sh makes (BASE_IMAGE).
ARG BASE_IMAGE=debian:12
FROM ${BASE_IMAGE}
ARG GO_VERSION=1.26.8
ENV DEBIAN_FRONTEND=noninteractive
# Debian 12's docker CLI (20.10, API 1.41) is older than current engines accept (Docker
# Engine 29 refuses API versions before 1.44): the CLI comes from Debian 13 (26.1, API 1.45).
RUN echo 'deb http://deb.debian.org/debian trixie main' >/etc/apt/sources.list.d/trixie.list \
 && printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/trixie \
 && apt-get -o Acquire::Retries=3 update -qq \
 && apt-get install -y -qq --no-install-recommends \
      ca-certificates curl git make procps unzip util-linux \
      python3 python3-venv postgresql nginx-light wrk npm >/dev/null \
 && apt-get install -y -qq --no-install-recommends -t trixie docker-cli >/dev/null \
 && rm -rf /var/lib/apt/lists/*
# Go for the Prometheus build (Debian 12 has Go 1.19; it needs 1.23 or newer): Go's own
# toolchain module, from the Go module proxy as the go command fetches it.
RUN arch="$(dpkg --print-architecture)" \
 && curl -fsSL -o /tmp/go.zip "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-${arch}.zip" \
 && unzip -q /tmp/go.zip -d /tmp/go \
 && mv /tmp/go/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-${arch} /usr/local/go \
 && chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* \
 && rm -rf /tmp/go /tmp/go.zip \
 && /usr/local/go/bin/go version
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
