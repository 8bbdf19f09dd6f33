# The snapdrill image of the fleet run (issue #12; iam/fleet-stack.yaml runs it on ECS Fargate). The CLI needs only
# Node here: the checks run on helper instances in the member accounts, which snapdrill drives over SSM.
#
#   docker build -t snapdrill .
#   docker run --rm snapdrill --help
#
# The fleet workflow passes the command (gc / plan / run / merge ...) as the container command; no secret is in
# the image, its environment or its command: the task role's credentials come from the ECS credentials endpoint.

# ---- build: compile the TypeScript (dev dependencies needed only here)
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# ---- runtime: production dependencies and what package.json "files" ships (bin, dist, checks, schemas, data)
FROM node:20-slim
ENV NODE_ENV=production \
    CI=1
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: ssh2's optional native speed-ups are not built; it works without them.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY checks ./checks
COPY schemas ./schemas
COPY data ./data
COPY --from=build /app/dist ./dist
# The image's node user (uid 1000): run ledgers go to /home/node/.local/state/snapdrill, reports to S3.
USER node
ENTRYPOINT ["node", "/app/bin/snapdrill.js"]
CMD ["--help"]
