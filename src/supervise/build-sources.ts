/**
 * What a per-bottle Dockerfile may take from outside its own build. It is the
 * agent's text, and its build runs behind the bottle's gate: RUN steps (curl,
 * apt-get, npm) go out through the gate, to what the bottle's egress allows. Two
 * fetches would not: the Docker engine downloads an ADD's URL and pulls a missing
 * image itself, with the host's network. So a per-bottle Dockerfile has no ADD, its
 * COPY takes only from a stage or an image (its context is empty), and it names
 * images plainly enough that the runner can check, before building, that each one
 * is already on the engine (see `namedImages`).
 *
 * Plain means: no quotes or escape characters (the engine and this parser could
 * read them differently), and variables only as `$NAME` or `${NAME}` of an ARG
 * declared before the first FROM, with a plain default.
 */
import { Copy, DockerfileParser, From, type Instruction, Onbuild } from "dockerfile-ast";

const PLAIN_IMAGE = /^(?:[A-Za-z0-9._/:@-]|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})+$/;
const PLAIN_SOURCE = /^[A-Za-z0-9._/:@-]+$/;
const PLAIN_ARG = /^[A-Za-z_][A-Za-z0-9_]*(?:=[A-Za-z0-9._/:@-]*)?$/;
/** What the engine or this parser could read as an escape or a quote. */
const UNPLAIN = /[\\`'"]/;
/**
 * An image reference as the engine's reference grammar (distribution/reference) writes one:
 * [domain/]path[:tag][@digest].
 */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const REFERENCE = new RegExp(
  `^(?:${LABEL}(?:\\.${LABEL})*(?::[0-9]+)?/)?` +
    `${COMPONENT}(?:/${COMPONENT})*` +
    `(?::\\w[\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

const ADD_FIX =
  "download with RUN curl or wget instead (a per-bottle build goes out through the bottle's gate, to what its " +
  "egress allows), or COPY --from=<an earlier stage>";
const COPY_FIX =
  "start FROM the image this bottle runs on (current-dockerfile names it) rather than copying its files again, " +
  "write the file with RUN, or COPY --from=<an earlier stage, or an image on this engine>";

/** What in `instructions` reaches outside a per-bottle build, in one sentence; null when nothing does. */
export function buildSourcesProblem(instructions: Instruction[]): string | null {
  let seenFrom = false;
  for (const instruction of instructions) {
    const keyword = instruction.getKeyword().toUpperCase();
    const at = `line ${instruction.getRange().start.line + 1}`;
    if (keyword === "ARG" && !seenFrom && !PLAIN_ARG.test(instruction.getArgumentsContent() ?? "")) {
      return (
        `${at}: an ARG before FROM gives an image to FROM, so write it plainly (NAME or NAME=name:tag), ` +
        `without quotes, escapes, variables or spaces`
      );
    }
    if (instruction instanceof From) {
      seenFrom = true;
      const problem = fromProblem(instruction);
      if (problem) return `${at}: ${problem}`;
    }
    const problem = fetchProblem(instruction);
    if (problem) return `${at}: ${problem}`;
    if (instruction instanceof Onbuild) {
      const trigger = instruction.getTriggerInstruction();
      const inner = trigger ? fetchProblem(trigger) : null;
      if (inner) return `${at}: ONBUILD ${inner}`;
    }
  }
  return null;
}

function fromProblem(from: From): string | null {
  if (from.getFlags().length > 0)
    return (
      "FROM takes no flags in a per-bottle Dockerfile (--platform would make the engine pull another " +
      "platform's image); remove them"
    );
  const image = from.getImage() ?? "";
  if (!PLAIN_IMAGE.test(image) || UNPLAIN.test(from.getTextContent())) {
    return (
      `FROM ${image}: name the image plainly (name:tag or name@digest), or as $NAME or \${NAME} of an ARG ` +
      `declared before FROM; quotes, escapes and \${NAME:-default} forms are not accepted`
    );
  }
  return null;
}

function fetchProblem(instruction: Instruction): string | null {
  const keyword = instruction.getKeyword().toUpperCase();
  if (keyword === "ADD") {
    return (
      `ADD is not available in a per-bottle Dockerfile: the Docker engine would fetch a URL itself, ` +
      `outside the bottle's gate, and the build's context is empty; ${ADD_FIX}`
    );
  }
  if (keyword !== "COPY") return null;
  const from = instruction instanceof Copy ? instruction.getFromFlag() : null;
  if (!from)
    return (
      `COPY without --from has nothing to copy: a per-bottle build's context is empty (the manifest's ` +
      `directory is never sent); ${COPY_FIX}`
    );
  const source = from.getValue() ?? "";
  if (!PLAIN_SOURCE.test(source) || UNPLAIN.test(instruction.getTextContent())) {
    return `COPY --from=${source}: name an earlier stage or an image plainly, without variables, quotes or escapes`;
  }
  return null;
}

/** An image a Dockerfile builds on or copies from, with the line that names it. */
export interface NamedImage {
  image: string;
  line: number;
}

/**
 * The images the engine would look for when building `text` with `buildArgs`:
 * every FROM and COPY --from that is not an earlier stage or `scratch`, its
 * variables resolved as the engine resolves them (an ARG declared before the first
 * FROM, the build arg over its default). Meant for a Dockerfile that passed
 * `buildSourcesProblem`; anything else it names is returned as written, to be
 * refused as no image on the engine.
 */
export function namedImages(text: string, buildArgs: Record<string, string>): NamedImage[] {
  const instructions = DockerfileParser.parse(text).getInstructions();
  const meta = new Map<string, string>();
  const stages = new Set<string>();
  const images: NamedImage[] = [];
  let seenFrom = false;
  for (const instruction of instructions) {
    const keyword = instruction.getKeyword().toUpperCase();
    const line = instruction.getRange().start.line + 1;
    if (keyword === "ARG" && !seenFrom) {
      const [name = "", value = ""] = (instruction.getArgumentsContent() ?? "").split(/=(.*)/s);
      meta.set(name, buildArgs[name] ?? value);
    } else if (instruction instanceof From) {
      seenFrom = true;
      const image = (instruction.getImage() ?? "").replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_m, name: string) => meta.get(name) ?? "",
      );
      if (image.toLowerCase() !== "scratch" && !stages.has(image.toLowerCase())) images.push({ image, line });
      const stage = instruction.getBuildStage();
      if (stage) stages.add(stage.toLowerCase());
    } else if (instruction instanceof Copy) {
      const source = instruction.getFromFlag()?.getValue();
      if (source && !/^\d+$/.test(source) && !stages.has(source.toLowerCase())) images.push({ image: source, line });
    }
  }
  return images;
}

/** Whether the engine can only read `image` as an image reference (no URL, no path, nothing to expand). */
export function isPlainReference(image: string): boolean {
  return REFERENCE.test(image);
}
