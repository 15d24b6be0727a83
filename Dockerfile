# otelcol-sapcpi as a small image: the static binary built by `make build` (ocb, CGO off), CA
# certificates for the HTTPS calls to SAP, and a non-root user. Build the binary first:
#   make build && docker build -t otelcol-sapcpi:0.1.0 .
# The binary sits at /otelcol-sapcpi, so the upstream opentelemetry-collector Helm chart can run it with
# command.name: otelcol-sapcpi.
FROM debian:bookworm-slim AS certs
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*

FROM scratch
ARG USER_UID=10001
ARG USER_GID=10001
USER ${USER_UID}:${USER_GID}
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chmod=755 dist/otelcol-sapcpi/otelcol-sapcpi /otelcol-sapcpi
ENTRYPOINT ["/otelcol-sapcpi"]
CMD ["--config", "/conf/config.yaml"]
EXPOSE 13133
