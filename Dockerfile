# Container image for tenantguard (the Helm chart's image). Not built or run
# on the development machines (no container engine there): see README.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tenantguard

# distroless: no shell, non-root (uid 65532), read-only root filesystem friendly.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/tenantguard /usr/local/bin/tenantguard
COPY policies /etc/tenantguard/policies
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/tenantguard"]
CMD ["serve", "--policies", "/etc/tenantguard/policies"]
