// `node runner <command>` from a clone, with no install step: the committed bundle.
import "../dist/runner/index.js";
