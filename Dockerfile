# syntax=docker/dockerfile:1
# mcp-sync-monitor: multi-stage build, small non-root runtime image without a shell.
#
# Base images are pinned by digest, so a rebuild uses exactly the bytes that were tested. To
# update one, look up the digest of the tag and replace it here, e.g.:
#   docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot   (the index "Digest:")
#   crane digest docker.io/library/rust:1.95-slim-bookworm
# Keep the builder's Debian release equal to the runtime's (bookworm = debian12): the binary
# links against the builder's glibc.
# Both are build arguments, for private registries and mirrors:
#   docker build --build-arg RUST_IMAGE=registry.example.com/rust:1.95-slim-bookworm \
#                --build-arg RUNTIME_IMAGE=registry.example.com/distroless/cc-debian12:nonroot .
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
# Where the binary comes from: the `build` stage below compiles it. Any image holding a
# release binary at /out/mcp-sync-monitor can stand in (scripts/image-test.sh passes one built
# from the host's `cargo build --release`, where no Rust image can be pulled).
ARG BINARY_FROM=build

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml/Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches/cycle \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/cycle/main.rs \
 && cargo build --release --locked \
 && rm -rf src benches
COPY src ./src
COPY benches ./benches
# The runbook is built into the binary (served at /runbook, where alerts link).
COPY docs/runbook.md ./docs/runbook.md
# Make sure the real sources are newer than the placeholder build.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin mcp-sync-monitor \
 && mkdir -p /out && cp target/release/mcp-sync-monitor /out/

# hadolint ignore=DL3006
FROM ${BINARY_FROM} AS binary

# distroless/cc: glibc, CA certificates (rustls reads them), a nonroot user (65532), no shell.
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="mcp-sync-monitor" \
      org.opencontainers.image.description="Keeps the MCP servers of Cloudflare accounts synced and exports their sync health to Prometheus" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=binary /out/mcp-sync-monitor /usr/local/bin/mcp-sync-monitor
USER 65532:65532
EXPOSE 9878
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/mcp-sync-monitor", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mcp-sync-monitor"]
CMD ["run"]
