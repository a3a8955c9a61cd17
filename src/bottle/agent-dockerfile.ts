/**
 * The bundled agent Dockerfile, used when a bottle names neither `image` nor
 * `dockerfile`. Its base is a build arg so a machine without a registry can build
 * it on a local base (`buildArgs.BASE_IMAGE`, or `CLAUDE_BOTTLE_BASE_IMAGE`);
 * claude-code is installed only when the base lacks it, and the agent runs as the
 * non-root `node` user because `--dangerously-skip-permissions` refuses root.
 */
export const DEFAULT_BASE_IMAGE = "node:24-bookworm-slim";
export const CLAUDE_CODE_VERSION = "2.1.197";

export const AGENT_DOCKERFILE =
  `# claude-bottle agent image
ARG BASE_IMAGE=${DEFAULT_BASE_IMAGE}
FROM \${BASE_IMAGE}
ARG CLAUDE_CODE_VERSION=${CLAUDE_CODE_VERSION}
USER root
RUN command -v claude >/dev/null 2>&1 || ` +
  `npm install --global --no-fund --no-audit "@anthropic-ai/claude-code@\${CLAUDE_CODE_VERSION}"
RUN id -u node >/dev/null 2>&1 || useradd --create-home --uid 1000 --user-group --shell /bin/sh node
RUN mkdir -p /home/node/workspace /home/node/.claude && chown -R node:node /home/node
ENV CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1
USER node
WORKDIR /home/node/workspace
`;
