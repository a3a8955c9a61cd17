// Stands in for @grpc/grpc-js, which dockerode loads at start for its BuildKit
// session (buildImage with version "2"). bottle-action builds with the classic
// builder and never opens a session; the real package and its protos would add
// megabytes to every bundle. Reaching this is a bug.
"use strict";

function absent() {
  throw new Error(
    "dockerode's BuildKit session is not part of bottle-action (images are built with the classic builder)",
  );
}

module.exports = {
  Server: class {
    constructor() {
      absent();
    }
  },
  ServerCredentials: { createInsecure: absent },
  loadPackageDefinition: absent,
};
