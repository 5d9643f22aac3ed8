# One image for the collector, the console and the demo runtime; docker-compose.yml picks the
# subcommand. Build: docker build -t troupe .
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
COPY contract/package.json contract/
COPY runtime/package.json runtime/
COPY collector/package.json collector/
COPY examples/package.json examples/
COPY console/package.json console/
COPY test/package.json test/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && (cd console && npx next build) && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 TROUPE_DATA_DIR=/data
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# The V8 flag is COLLECTOR_NODE_FLAGS (bin/lib/config.mjs): fewer full GCs while the collector ingests.
ENTRYPOINT ["node", "--initial-heap-size=128", "bin/troupe.mjs"]
CMD ["--help"]
