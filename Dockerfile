# tagstream container image: tagstream-processor (the default command),
# tagstream-producer, tagstream-store, tagstream-view, tagstream-probe (the
# health check) and, when it is built, tagstream-drill.
#
#   infra/image/build                       # or: docker build --network host -t tagstream:local .
#   docker run --rm -e TAGSTREAM_BOOTSTRAP_SERVERS=broker:9092 tagstream:local
#   docker run --rm -e TAGSTREAM_BOOTSTRAP_SERVERS=broker:9092 tagstream:local tagstream-producer
#
# Two stages on Debian 13 ("trixie"): librdkafka 2.8, which authenticates
# with SASL/SCRAM to Kafka 4 (Debian 12's 2.0.2 cannot), and RocksDB 9.10.
# The build stage installs the -dev packages of infra/setup (the
# deploy_dockerfile test fails when the two lists drift apart), builds and
# runs the unit tests on Debian 13's libraries; the runtime stage holds
# only the shared libraries the binaries link against and ca-certificates
# (TLS to MSK and the social APIs). See docs/DEPLOYMENT.md.

FROM debian:trixie-slim AS build
# infra/image/build prunes the untagged images of earlier builds by this label.
LABEL tagstream.stage=build

# Debian's versions are pinned by the release; exact version pins would
# break every time a security update replaces a package in the archive.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        librdkafka-dev librocksdb-dev libcurl4-openssl-dev libjansson-dev libssl-dev \
        libutf8proc-dev libmicrohttpd-dev libcriterion-dev libwebsockets-dev \
    && rm -rf /var/lib/apt/lists/*

# No WORKDIR: with the vfs storage driver (infra/image/dockerd) every layer
# is a full copy of the file system, so the build stage keeps to three.
COPY . /src

# Release build, warnings as errors, and the unit tests run here on the
# image's libraries. Left to the host build: the deployment-file checks
# (label deploy: their tools come from PyPI) and promtool's check of the
# metrics format (Prometheus is a large package for one check). The four
# binaries and the probe are required; tagstream-drill is shipped when this
# tree builds it.
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTS_WERROR=ON \
    && cmake --build /build \
    && TAGSTREAM_TEST_NO_PROMTOOL=1 ctest --test-dir /build -L unit -LE deploy --output-on-failure \
    && mkdir -p /out \
    && install -m 0755 -s /build/bin/tagstream-processor /build/bin/tagstream-producer \
        /build/bin/tagstream-store /build/bin/tagstream-view /build/bin/tagstream-probe /out/ \
    && if [ -x /build/bin/tagstream-drill ]; then install -m 0755 -s /build/bin/tagstream-drill /out/; fi


FROM debian:trixie-slim AS runtime
LABEL tagstream.stage=runtime

# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka1 librocksdb9.10 libcurl4t64 libjansson4 libutf8proc3 libmicrohttpd12t64 \
        libwebsockets19t64 libssl3t64 \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && groupadd --gid 10001 tagstream \
    && useradd --uid 10001 --gid tagstream --home-dir /var/lib/tagstream \
        --no-create-home --shell /usr/sbin/nologin tagstream \
    && install -d -o tagstream -g tagstream -m 0750 /var/lib/tagstream

# The processor's state (one RocksDB per task). In a container it is as
# ephemeral as the container unless a volume is mounted here; the processor
# restores it from the changelog topic either way.
ENV TAGSTREAM_STATE_DIR=/var/lib/tagstream \
    TAGSTREAM_HTTP_LISTEN=0.0.0.0:8080

USER 10001:10001
WORKDIR /var/lib/tagstream
EXPOSE 8080

# The processor commits its open transaction, closes its stores and leaves
# the consumer group on SIGTERM (within shutdown.timeout.ms, 15 s); give the
# container a stop timeout longer than that.
STOPSIGNAL SIGTERM

# Liveness, not readiness: /health is 200 while the processing loop turns,
# also during a long restore, when /ready is 503. tagstream-probe asks
# /health on 127.0.0.1 at the port of TAGSTREAM_HTTP_LISTEN and exits 0
# only on a 200. The processor opens its HTTP endpoint once it has reached
# Kafka, hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["tagstream-probe"]

CMD ["tagstream-processor"]

# Last: everything above stays cached when only the sources change (with
# the vfs storage driver every step costs a full copy of the image).
COPY --from=build /out/ /usr/local/bin/
