// Stands in for protobufjs, which dockerode uses only to decode BuildKit build
// output (its followProgress). bottle-action builds with the classic builder and
// follows progress with the modem's own followProgress. Reaching this is a bug.
"use strict";

module.exports = {
  loadSync() {
    throw new Error(
      "dockerode's BuildKit output decoding is not part of bottle-action (images are built with the classic builder)",
    );
  },
};
