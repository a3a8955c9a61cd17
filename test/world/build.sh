#!/usr/bin/env bash
# Builds the images of the security tests' stand-in internet (see world.ts in
# test/support for how they are started):
#   bottle-test/world:latest     the origin, canary, DNS and fake model API programs, with certificates
#   bottle-test/toolbox:latest   the fake agent plus curl, openssl, iproute2, ping, dig, nc and `probe`
# Each image carries a hash of its sources and of the image it is built on, and
# is rebuilt only when that hash changes (or FORCE=1). Needs the images from
# test/images/build.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_BUILDKIT=0

current() { # image, hash
  [ "${FORCE:-0}" != 1 ] && [ "$(docker image inspect -f '{{index .Config.Labels "bottle-test.sources"}}' "$1" 2>/dev/null || true)" = "$2" ]
}

sources_hash() { # base image, files...
  { docker image inspect -f '{{.Id}}' "$1"; shift; cat "$@"; } | sha256sum | cut -c1-16
}

build() { # image, hash, context dir
  docker build -q --label bottle-test=1 --label "bottle-test.sources=$2" -t "$1" "$3" >/dev/null 2>"$work/build.log" || { cat "$work/build.log"; exit 1; }
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

world_sum=$(sources_hash bottle-test/node:24 "$here/world.Dockerfile" "$here/certs.sh" "$here"/origin.mjs "$here"/canary.mjs "$here"/dns.mjs "$here"/model-api.mjs)
if ! current bottle-test/world:latest "$world_sum"; then
  echo "building bottle-test/world:latest"
  mkdir -p "$work/world"
  cp "$here"/origin.mjs "$here"/canary.mjs "$here"/dns.mjs "$here"/model-api.mjs "$work/world/"
  cp "$here/world.Dockerfile" "$work/world/Dockerfile"
  bash "$here/certs.sh" "$work/world/certs"
  build bottle-test/world:latest "$world_sum" "$work/world"
fi

toolbox_sum=$(sources_hash bottle-test/fake-agent:latest "$here/toolbox.Dockerfile" "$here/probe.mjs")
if ! current bottle-test/toolbox:latest "$toolbox_sum"; then
  echo "building bottle-test/toolbox:latest"
  mkdir -p "$work/toolbox"
  cp "$here/probe.mjs" "$work/toolbox/"
  cp "$here/toolbox.Dockerfile" "$work/toolbox/Dockerfile"
  build bottle-test/toolbox:latest "$toolbox_sum" "$work/toolbox"
fi
echo "world images ready"
