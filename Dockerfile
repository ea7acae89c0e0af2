# syntax=docker/dockerfile:1
# gptbots-relay image. scripts/container-smoke.sh runs these same steps without Docker (CI has
# none): when you change a step, a copied path or the runtime layout here, change it there too.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts but the two that need one (the native SQLite binding, esbuild for tsx);
# `prepare` would build before the sources are here.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    GPTBOTS_RELAY_CONFIG=/app/container/config.json
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config.schema.json config.example.json ./
COPY container ./container
# The store lives in /data, the only place the relay writes; the code stays root-owned.
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
# Asks /healthz on the address the config names (server.host, server.port, PORT), found as start finds it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/container/healthcheck.mjs"]
# `docker run IMAGE` starts the relay; `docker run IMAGE check-config FILE`, `IMAGE --help`,
# `IMAGE migrate` and the admin commands run those instead. Exec form: node is PID 1 and gets
# docker stop's SIGTERM itself.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start"]
