// Builds dist/: one ESM bundle per program, made by ncc, each in its own folder with
// its chunks and licenses, minified by scripts/minify.mjs. dist/ is committed — GitHub
// runs it straight from the tag and `node runner` runs it from a clone — so any
// machine must rebuild it byte for byte: no source maps, no cache, nothing compiled
// on the machine. No bundle carries a native addon, executable or protocol file
// (dockerode's ssh and BuildKit parts are stubs, stubs/README.md): the build fails
// if one would. ncc type-checks with tsconfig.json, which covers src/ only.
import ncc from "@vercel/ncc";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { minifyBundleFile } from "./minify.mjs";

export const bundles = {
  runner: "src/cli/index.ts",
  gate: "src/gate/server.ts",
  supervise: "src/supervise/main.ts",
  action: "src/action/index.ts",
};

// action.yml's runs.main and runs.post: each a file that calls its step in the action
// bundle, so the two steps share every chunk and neither has to guess which it is.
export const steps = ["main", "post"];

// Files a dependency names at run time that ncc would otherwise copy beside a
// bundle. dockerode's protos serve its BuildKit session and BuildKit output
// decoding, which bottle-action never uses (it builds with the classic builder).
const notShipped = [`${sep}node_modules${sep}dockerode${sep}lib${sep}proto`];
const refused = /\.(node|exe|dll|proto)$/;

const dist = "dist";
rmSync(dist, { recursive: true, force: true });
for (const [name, entry] of Object.entries(bundles)) {
  const { code, assets } = await ncc(join(process.cwd(), entry), {
    minify: false, // ncc would minify the entry file only: every file goes through minifyBundleFile
    cache: false,
    sourceMap: false,
    sourceMapRegister: false,
    license: "licenses.txt",
    quiet: true,
    customEmit: (path) => (notShipped.some((p) => path.includes(p)) ? false : undefined),
  });
  const bad = Object.keys(assets).filter((file) => refused.test(file));
  if (bad.length > 0)
    throw new Error(`dist/${name} would carry ${bad.join(", ")}: keep the module that names them out of the bundle`);
  write(join(dist, name, "index.js"), await minifyBundleFile(code));
  for (const [file, asset] of Object.entries(assets)) {
    write(join(dist, name, file), file.endsWith(".js") ? await minifyBundleFile(String(asset.source)) : asset.source);
  }
}
for (const step of steps) {
  write(join(dist, step, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  write(
    join(dist, step, "index.js"),
    `// action.yml's ${step} step, in the action bundle.\nimport { ${step} } from "../action/index.js";\nawait ${step}();\n`,
  );
}
console.log(`built ${[...Object.keys(bundles), ...steps].map((n) => `dist/${n}/index.js`).join(", ")}`);

function write(path, content) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}
