// The import graph of src/, checked by `npm run lint` (dependency-cruiser).
//
// dependency-cruiser rather than an eslint plugin or biome: it resolves every import
// to the file it names (TypeScript's `./x.js` → `x.ts` included) and judges the
// graph, so one ordered list below is the whole rule, a cycle is reported with its
// path, and it needs no parser plugins.
//
// LAYERS is the one source of truth for "imports point down only": from the doors
// down, a row per layer. A file may import its own folder and any folder in a lower
// row, never one in a higher row nor a neighbour in its own row.
const LAYERS = [
  ["cli", "action"], // the doors: `node runner` (with its demo) and the action's steps
  ["bottle"], // one launch, shared by both doors
  ["state"], // the state directory, its identities, outcomes, metadata, budget and archive
  ["docker"], // the one Docker interface and its dockerode implementation
  ["manifest"], // the manifest's schema, loading and units
  ["gate", "supervise"], // the sidecar programs, each its own bundle; the launch and the manifest use their config
  ["sidecar"], // what the sidecar programs share
  ["log", "stream"], // the log interface and the filter for printed lines; lines from a byte stream
  ["."], // src/errors.ts, src/closest.ts
];

const folder = (name) => (name === "." ? "^src/[^/]+$" : `^src/${name}/`);
const any = (names) => names.map(folder);

const layerRules = LAYERS.flatMap((row, index) =>
  row.map((name) => ({
    name: `down-only-from-${name === "." ? "root" : name}`,
    comment: `src/${name === "." ? "" : `${name}/`} imports only folders below it in .dependency-cruiser.mjs's LAYERS`,
    severity: "error",
    from: { path: folder(name) },
    to: { path: any([...LAYERS.slice(0, index).flat(), ...row.filter((other) => other !== name)]) },
  })),
);

export default {
  forbidden: [
    ...layerRules,
    {
      name: "no-cycle",
      comment: "a file never reaches itself through its imports",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "in-a-layer",
      comment: "every folder of src/ has its row in LAYERS",
      severity: "error",
      from: { path: "^src/", pathNot: any(LAYERS.flat()) },
      to: {},
    },
    {
      name: "dockerode-from-the-doors",
      comment: "only the doors pick the concrete Docker client; everything else takes a DockerClient",
      severity: "error",
      from: { path: "^src/", pathNot: any(["cli", "action", "docker"]) },
      to: { path: "^src/docker/dockerode\\.ts$" },
    },
    {
      name: "resolvable",
      comment: "an import that does not resolve would escape every rule above",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
