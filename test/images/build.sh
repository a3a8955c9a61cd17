#!/usr/bin/env bash
# Builds the images the integration tests run on, from nothing but Debian's mirror
# and this checkout (there is no image registry to pull from):
#   bottle-test/base:bookworm       debootstrap minbase, imported
#   bottle-test/node:24             + the Node 24 binary from node_modules (the gate image in tests)
#   bottle-test/agent-base:latest   + user node (1000) + the real claude binary (base of the bundled Dockerfile)
#   bottle-test/fake-agent:latest   + user node + the scriptable fake claude
# Idempotent: an image that exists is kept unless FORCE=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export DOCKER_BUILDKIT=0

have() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

build() { # tag, context dir (with a Dockerfile)
  echo "building $1"
  docker build -q --label bottle-test=1 -t "$1" "$2" >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have bottle-test/base:bookworm; then
  echo "debootstrap bookworm (about a minute)"
  debootstrap --variant=minbase bookworm "$work/rootfs" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
  tar -C "$work/rootfs" -c . | docker import --change 'LABEL bottle-test=1' - bottle-test/base:bookworm >/dev/null
  rm -rf "$work/rootfs"
fi

if ! have bottle-test/node:24; then
  mkdir -p "$work/node"
  cp "$(readlink -f "$root/node_modules/node/bin/node")" "$work/node/node"
  cat >"$work/node/Dockerfile" <<'DOCKERFILE'
FROM bottle-test/base:bookworm
COPY node /usr/local/bin/node
DOCKERFILE
  build bottle-test/node:24 "$work/node"
fi

user_setup='RUN useradd --create-home --uid 1000 --user-group --shell /bin/sh node && mkdir -p /home/node/workspace && chown -R node:node /home/node'

if ! have bottle-test/agent-base:latest; then
  mkdir -p "$work/agent"
  cp "$(readlink -f "$root/node_modules/@anthropic-ai/claude-code/bin/claude.exe")" "$work/agent/claude"
  cat >"$work/agent/Dockerfile" <<DOCKERFILE
FROM bottle-test/node:24
COPY claude /usr/local/bin/claude
$user_setup
DOCKERFILE
  build bottle-test/agent-base:latest "$work/agent"
fi

# The fake changes with the tests, so it is rebuilt whenever its source differs from the image's copy.
fake_sum=$(sha256sum "$root/test/fake-claude/claude.mjs" | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "bottle-test.fake"}}' bottle-test/fake-agent:latest 2>/dev/null || true)" != "$fake_sum" ] || [ "${FORCE:-0}" = 1 ]; then
  mkdir -p "$work/fake"
  cp "$root/test/fake-claude/claude.mjs" "$work/fake/claude"
  cat >"$work/fake/Dockerfile" <<DOCKERFILE
FROM bottle-test/node:24
COPY claude /usr/local/bin/claude
RUN chmod 755 /usr/local/bin/claude
$user_setup
LABEL bottle-test.fake=$fake_sum
DOCKERFILE
  build bottle-test/fake-agent:latest "$work/fake"
fi
echo "test images ready"
