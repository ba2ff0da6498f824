# tagstream container image: tagstream-processor (the default command),
# tagstream-producer, tagstream-store and, when it is built, tagstream-drill.
#
#   docker build -t tagstream .
#   docker run --rm -e TAGSTREAM_BOOTSTRAP_SERVERS=broker:9092 tagstream
#   docker run --rm -e TAGSTREAM_BOOTSTRAP_SERVERS=broker:9092 tagstream tagstream-producer
#
# Two stages on Debian 12 ("bookworm"), the distribution the project builds
# and tests on. The build stage installs the same -dev packages as
# infra/setup (the deploy_dockerfile test fails when the two lists
# drift apart); the runtime stage holds only the shared libraries the
# binaries link against, plus ca-certificates (TLS to MSK and the social
# APIs) and curl (the health check). See docs/DEPLOYMENT.md.

FROM debian:bookworm AS build

# Debian's versions are pinned by the release; exact version pins would
# break every time a security update replaces a package in the archive.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        librdkafka-dev librocksdb-dev libcurl4-openssl-dev libjansson-dev libssl-dev \
        libutf8proc-dev libmicrohttpd-dev libwebsockets-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# Release build without the tests (libcriterion-dev is for tests only).
# The three binaries are required; tagstream-drill is shipped when this
# tree builds it.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build /build \
    && mkdir -p /out \
    && install -m 0755 -s /build/bin/tagstream-processor /build/bin/tagstream-producer \
        /build/bin/tagstream-store /out/ \
    && if [ -x /build/bin/tagstream-drill ]; then install -m 0755 -s /build/bin/tagstream-drill /out/; fi


FROM debian:bookworm-slim AS runtime

# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka1 librocksdb7.8 libcurl4 libjansson4 libutf8proc2 libmicrohttpd12 libwebsockets17 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 tagstream \
    && useradd --uid 10001 --gid tagstream --home-dir /var/lib/tagstream \
        --no-create-home --shell /usr/sbin/nologin tagstream \
    && install -d -o tagstream -g tagstream -m 0750 /var/lib/tagstream

COPY --from=build /out/ /usr/local/bin/

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
# also during a long restore, when /ready is 503. The port follows
# TAGSTREAM_HTTP_LISTEN. The processor opens its HTTP endpoint once it has
# reached Kafka, hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${TAGSTREAM_HTTP_LISTEN##*:}/health\" || exit 1"]

CMD ["tagstream-processor"]
