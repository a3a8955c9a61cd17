#!/usr/bin/env bash
# Self-signed certificates for the origin's virtual hosts, written to DIR:
#   allowed.test  (also *.allowed.test and rebind.test, which point at the same origin)
#   evil.test     (also *.evil.test)
# The agent's clients skip verification; what matters to the tests is which
# name the client asked for, not whom it trusts.
set -euo pipefail
dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cert() { # name, subjectAltName
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=$1" -addext "subjectAltName=$2" -keyout "$dir/$1.key" -out "$dir/$1.crt" 2>/dev/null
}
cert allowed.test "DNS:allowed.test,DNS:*.allowed.test,DNS:rebind.test"
cert evil.test "DNS:evil.test,DNS:*.evil.test"
chmod 644 "$dir"/*
