# syntax=docker/dockerfile:1
# Lagebot container image: the bot alone (`lagebot serve`), state in SQLite under /data or in
# PostgreSQL (DATABASE_URL), back ends by URL (INVENTORY_API_URL, GATEWAY_API_URL; without them the
# embedded simulator starts). See README.md, "Deployment".
#
#   docker build -t lagebot .
#   docker run -p 3978:3978 -v lagebot-data:/data \
#     -e MicrosoftAppId=… -e MicrosoftAppPassword=… -e MicrosoftAppTenantId=… -e MicrosoftAppType=SingleTenant \
#     -e ROLES_FILE=/etc/lagebot/roles.json -v "$PWD/roles.json:/etc/lagebot/roles.json:ro" lagebot
#
# The image runs the production build (dist/main.mjs, `npm run build`: our TypeScript bundled by
# esbuild, npm packages from node_modules) with plain node and the memory flags of
# scripts/build-bundle.ts (PRODUCTION_NODE_FLAGS; a test keeps CMD and that list equal).

ARG NODE_IMAGE=node:20.19-bookworm-slim

# ---- build: install once, with the toolchain, then drop the devDependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 normally downloads a prebuilt binary; where none matches (another libc or CPU) it
# compiles, which needs python3, make and g++.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# All dependencies first: botbuilder-dialogs' postinstall runs `npx rimraf`, a devDependency, so a
# plain `npm ci --omit=dev` in a fresh stage would have to fetch rimraf from outside the lockfile.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build-bundle.ts ./scripts/
COPY src ./src
RUN npm run build
# Then keep only what runs; the compiled better-sqlite3 stays, install scripts do not run again.
RUN npm prune --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PLAYGROUND=off \
    PORT=3978 \
    DATA_DIR=/data
# HOST is deliberately not set: with MicrosoftAppId the bot listens on 0.0.0.0; without it (local
# mode, unauthenticated traffic accepted) only on the container's loopback. To try the image without
# an Azure Bot, pass -e HOST=0.0.0.0 knowingly.
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /app/dist ./dist
COPY cards ./cards
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3978
# /healthz answers while the process is up; /readyz (store and back ends) is for the load balancer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3978}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=1", "dist/main.mjs", "serve"]
