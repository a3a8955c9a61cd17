// Stands in for ssh2, which docker-modem loads at start for DOCKER_HOST=ssh://.
// bottle-action reaches the engine over a unix socket or tcp:// and refuses an
// ssh:// host before it connects (src/docker/engine-host.ts); the real package
// carries native addons that build only with a compiler and Node's headers, so a
// fresh machine could not rebuild dist/ byte for byte. Reaching this is a bug.
"use strict";

class Client {
  constructor() {
    throw new Error(
      "DOCKER_HOST=ssh:// is not supported; forward the engine's socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock",
    );
  }
}

module.exports = { Client };
