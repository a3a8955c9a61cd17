// Stands in for @grpc/proto-loader, which dockerode loads at start for its BuildKit
// session (buildImage with version "2"). bottle-action builds with the classic
// builder and never opens a session. Reaching this is a bug.
"use strict";

module.exports = {
  loadSync() {
    throw new Error(
      "dockerode's BuildKit session is not part of bottle-action (images are built with the classic builder)",
    );
  },
};
