// Minifies one file of an ncc bundle (the entry or a chunk) without making it slower
// to start. terser gets ncc's own settings: no compress, names kept so stack traces
// stay readable. webpack writes each module's function in parentheses, and V8
// compiles a parenthesised function at once instead of pre-parsing it now and
// parsing it again when it is called; terser drops those parentheses, which made
// `node runner` and the action's first line about 10% slower to appear than the
// unminified bundles. So every function of a module table (`{ 123: (e, t, r) => … }`)
// gets its parentheses back, and the result is parsed once more to prove it is valid.
import { parse } from "acorn";
import { minify } from "terser";

const terserOptions = { module: true, compress: false, mangle: { keep_classnames: true, keep_fnames: true } };

export async function minifyBundleFile(source) {
  const { code } = await minify(source, terserOptions);
  const wrapped = parenthesiseModules(code);
  parse(wrapped, { ecmaVersion: "latest", sourceType: "module" });
  return wrapped;
}

function parenthesiseModules(code) {
  const spans = [];
  const visit = (node) => {
    if (isModuleTable(node))
      for (const property of node.properties) spans.push([property.value.start, property.value.end]);
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value])
        if (child && typeof child.type === "string") visit(child);
    }
  };
  visit(parse(code, { ecmaVersion: "latest", sourceType: "module" }));
  let out = "";
  let at = 0;
  for (const [start, end] of spans.sort((a, b) => a[0] - b[0])) {
    out += `${code.slice(at, start)}(${code.slice(start, end)})`;
    at = end;
  }
  return out + code.slice(at);
}

/** `{ 123: (e, t, r) => {…}, 456: function (e) {…} }`: webpack's modules, keyed by id. */
function isModuleTable(node) {
  return (
    node.type === "ObjectExpression" &&
    node.properties.length > 0 &&
    node.properties.every(
      (p) =>
        p.type === "Property" &&
        p.kind === "init" &&
        !p.method &&
        !p.computed &&
        !p.shorthand &&
        p.key.type === "Literal" &&
        typeof p.key.value === "number" &&
        (p.value.type === "ArrowFunctionExpression" || p.value.type === "FunctionExpression"),
    )
  );
}
