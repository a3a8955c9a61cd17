/**
 * Is this text a Dockerfile worth building? The supervise server asks before it
 * accepts a proposal, and the runner asks again of what it reads back (from the
 * sidecar, or from a restored cache): the text is the agent's, so it is untrusted.
 * Parsing is dockerfile-ast's (the parser behind the Docker language server); the
 * rules on top are the ones a build would fail on anyway, caught before any build,
 * and those that keep a per-bottle build from reaching outside it (build-sources.ts).
 */
import { DockerfileParser } from "dockerfile-ast";
import { buildSourcesProblem } from "./build-sources.js";
import { MAX_DOCKERFILE_BYTES } from "./config.js";

const INSTRUCTIONS = new Set([
  "FROM",
  "RUN",
  "CMD",
  "LABEL",
  "MAINTAINER",
  "EXPOSE",
  "ENV",
  "ADD",
  "COPY",
  "ENTRYPOINT",
  "VOLUME",
  "USER",
  "WORKDIR",
  "ARG",
  "ONBUILD",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "SHELL",
]);

/** What is wrong with `text` as a Dockerfile, in one sentence; null when nothing is. */
export function dockerfileProblem(text: string, maxBytes = MAX_DOCKERFILE_BYTES): string | null {
  if (text.trim() === "") return "the Dockerfile is empty";
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) return `the Dockerfile is ${bytes} bytes, over the limit of ${maxBytes}`;
  if (text.includes("\0")) return "the Dockerfile contains a NUL byte";
  let instructions;
  try {
    instructions = DockerfileParser.parse(text).getInstructions();
  } catch (error) {
    return `the Dockerfile does not parse (${error instanceof Error ? error.message : String(error)})`;
  }
  if (instructions.length === 0) return "the Dockerfile has no instructions, only comments";
  for (const instruction of instructions) {
    const keyword = instruction.getKeyword().toUpperCase();
    const line = instruction.getRange().start.line + 1;
    if (!INSTRUCTIONS.has(keyword))
      return `line ${line}: ${JSON.stringify(instruction.getKeyword())} is not a Dockerfile instruction`;
    if (instruction.getArguments().length === 0) return `line ${line}: ${keyword} has no arguments`;
  }
  const first = instructions[0];
  if (first && !["FROM", "ARG"].includes(first.getKeyword().toUpperCase())) {
    return (
      `line ${first.getRange().start.line + 1}: the first instruction is ` +
      `${first.getKeyword().toUpperCase()}; a Dockerfile starts with FROM (or ARG before FROM)`
    );
  }
  if (!instructions.some((i) => i.getKeyword().toUpperCase() === "FROM"))
    return "the Dockerfile has no FROM instruction";
  return buildSourcesProblem(instructions);
}
