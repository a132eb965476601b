# syntax=docker/dockerfile:1
# mcp-sync-monitor: multi-stage build, small non-root runtime image without a shell.
# Base images are build arguments so private registries and mirrors can be used:
#   docker build --build-arg RUST_IMAGE=registry.example.com/rust:1.95-slim-bookworm \
#                --build-arg RUNTIME_IMAGE=registry.example.com/distroless/cc-debian12:nonroot .
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml/Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/cycle.rs \
 && cargo build --release --locked \
 && rm -rf src benches
COPY src ./src
COPY benches ./benches
# Make sure the real sources are newer than the placeholder build.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin mcp-sync-monitor

# distroless/cc: glibc, CA certificates (rustls reads them), a nonroot user (65532), no shell.
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="mcp-sync-monitor" \
      org.opencontainers.image.description="Keeps the MCP servers of Cloudflare accounts synced and exports their sync health to Prometheus" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/your-org/mcp-sync-monitor"
COPY --from=build /src/target/release/mcp-sync-monitor /usr/local/bin/mcp-sync-monitor
USER 65532:65532
ENV MCP_SYNC_LISTEN=0.0.0.0:9878
EXPOSE 9878
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/mcp-sync-monitor", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mcp-sync-monitor"]
CMD ["run"]
