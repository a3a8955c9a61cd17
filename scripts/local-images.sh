#!/usr/bin/env bash
# Builds the images a bottle runs on with no image registry, from Debian's mirror and
# the npm registry only:
#   BASE_TAG   debootstrap --variant=minbase bookworm, imported (docker import)
#   GATE_TAG   BASE_TAG + the official Node build, npm's node-linux-<arch>@NODE_VERSION
#              (the gate and the supervise server run on it)
#   AGENT_TAG  GATE_TAG + claude-code's native build, npm's
#              @anthropic-ai/claude-code-linux-<arch>@CLAUDE_VERSION (the bundled
#              Dockerfile's base: it finds claude there and installs nothing)
#
#   scripts/local-images.sh BASE_TAG GATE_TAG AGENT_TAG NODE_VERSION CLAUDE_VERSION
#
# The runner calls it when it cannot pull its base or gate image (src/bottle/local-images.ts
# names the tags and versions). An image whose tag exists is kept. Progress goes to
# stderr. Needs the docker CLI, npm, and root (or passwordless sudo) for debootstrap,
# which it installs with apt-get when it is missing.
#
# Sourced (test/images/build.sh does), it only defines the functions.
set -euo pipefail

# local_images_as_root CMD...: CMD as root, through sudo when this user is not root.
local_images_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    echo "$1 needs root: run this as root, or give this user sudo" >&2
    return 1
  fi
}

# debootstrap_import DIR TAG [docker import options...]: TAG is Debian bookworm (minbase)
# from Debian's mirror; DIR is a scratch directory.
debootstrap_import() {
  local dir=$1 tag=$2 started=$SECONDS
  shift 2
  if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || { echo "debootstrap is missing and there is no apt-get to install it: install debootstrap" >&2; return 1; }
    echo "installing debootstrap (apt-get install debootstrap)" >&2
    if ! { local_images_as_root apt-get update -qq && local_images_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >"$dir/apt.log" 2>&1; then
      tail -20 "$dir/apt.log" >&2
      echo "installing debootstrap failed (log above)" >&2
      return 1
    fi
  fi
  echo "debootstrap bookworm from Debian's mirror (about a minute)" >&2
  if ! local_images_as_root debootstrap --variant=minbase bookworm "$dir/rootfs" >"$dir/debootstrap.log" 2>&1; then
    tail -20 "$dir/debootstrap.log" >&2
    echo "debootstrap bookworm failed (log above): check that deb.debian.org is reachable" >&2
    return 1
  fi
  local_images_as_root tar -C "$dir/rootfs" -c . | docker import "$@" - "$tag" >/dev/null
  local_images_as_root rm -rf "$dir/rootfs"
  echo "built $tag in $((SECONDS - started))s" >&2
}

# npm_file DIR PACKAGE@VERSION PATH: extracts PATH of the package from the npm registry
# into DIR and prints where it is.
npm_file() {
  local dir=$1 spec=$2 path=$3 tarball
  command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js with npm (https://nodejs.org/en/download)" >&2; return 1; }
  echo "fetching $spec from the npm registry" >&2
  mkdir -p "$dir/npm"
  local tries=0 out=""
  # The registry fails now and then; `npm pack` then prints no file name.
  until out=$(cd "$dir/npm" && npm pack --loglevel=error "$spec" 2>&1) && tarball=$(printf '%s\n' "$out" | tail -1) &&
    [ -n "$tarball" ] && [ -f "$dir/npm/$tarball" ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then
      echo "npm could not fetch $spec from the registry (3 tries): ${out:-no output}" >&2
      return 1
    fi
    echo "npm could not fetch $spec (try $tries of 3): ${out:-no output}; trying again" >&2
    sleep $((tries * 5))
  done
  tar -C "$dir/npm" -xzf "$dir/npm/$tarball" "package/$path"
  rm -f "$dir/npm/$tarball"
  echo "$dir/npm/package/$path"
}

# npm_arch: this machine's architecture as npm's platform packages name it.
npm_arch() {
  case "$(uname -m)" in
  x86_64) echo x64 ;;
  aarch64 | arm64) echo arm64 ;;
  *) echo "no Node or claude-code build on npm for $(uname -m)" >&2; return 1 ;;
  esac
}

# image_with_file DIR FROM TAG FILE DEST: builds TAG as FROM plus FILE at DEST, executable
# (COPY keeps the mode; a RUN chmod would store the file a second time).
image_with_file() {
  local dir=$1 from=$2 tag=$3 file=$4 dest=$5 started=$SECONDS
  rm -rf "$dir/ctx" && mkdir -p "$dir/ctx"
  cp "$(readlink -f "$file")" "$dir/ctx/file"
  chmod 755 "$dir/ctx/file"
  printf 'FROM %s\nCOPY file %s\n' "$from" "$dest" >"$dir/ctx/Dockerfile"
  if ! DOCKER_BUILDKIT=0 docker build -t "$tag" "$dir/ctx" >"$dir/build.log" 2>&1; then
    tail -30 "$dir/build.log" >&2
    echo "building $tag failed (log above)" >&2
    return 1
  fi
  rm -rf "$dir/ctx"
  echo "built $tag in $((SECONDS - started))s" >&2
}

local_images_main() {
  if [ $# -ne 5 ]; then
    echo "usage: $0 BASE_TAG GATE_TAG AGENT_TAG NODE_VERSION CLAUDE_VERSION" >&2
    return 2
  fi
  local base=$1 gate=$2 agent=$3 node_version=$4 claude_version=$5 arch work file
  has() { docker image inspect "$1" >/dev/null 2>&1; }
  command -v docker >/dev/null 2>&1 || { echo "the docker CLI is missing: install it with the engine (apt-get install docker.io)" >&2; return 1; }
  arch=$(npm_arch)
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # the directory is known now
  trap "local_images_as_root rm -rf '$work'" EXIT
  has "$base" || debootstrap_import "$work" "$base"
  if ! has "$gate"; then
    file=$(npm_file "$work" "node-linux-$arch@$node_version" bin/node)
    image_with_file "$work" "$base" "$gate" "$file" /usr/local/bin/node
  fi
  if ! has "$agent"; then
    file=$(npm_file "$work" "@anthropic-ai/claude-code-linux-$arch@$claude_version" claude)
    image_with_file "$work" "$gate" "$agent" "$file" /usr/local/bin/claude
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  local_images_main "$@"
fi
