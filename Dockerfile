# Build: the release binary with the migrations and templates embedded.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY pmbot.example.toml ./
RUN cargo build --release --locked && strip target/release/pmbot

# Run: a slim image with only the binary, CA roots and an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app pmbot
WORKDIR /app
COPY --from=build /src/target/release/pmbot /usr/local/bin/pmbot
USER pmbot
ENV PMBOT_LISTEN=0.0.0.0:8080 PMBOT_DATA_DIR=/app/data RUST_LOG=pmbot=info,warn
EXPOSE 8080

CMD ["pmbot", "serve"]
