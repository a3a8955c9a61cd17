/**
 * The engine's build output, cut down to one line per Dockerfile step. A build can
 * take minutes (an npm install in a RUN); people watching want to know it moves and
 * how far along it is, not every line of apt or npm (the full log is kept for a
 * failed build). The classic builder, which the Engine API's /build runs, opens each
 * step with `Step 5/14 : RUN …`.
 */

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const MAX_INSTRUCTION = 100;

/** `step 5/14 RUN npm ci` for a build output line that starts a step; undefined for every other line. */
export function buildStep(line: string): string | undefined {
  const match = STEP.exec(line.trim());
  if (!match) return undefined;
  const instruction = match[3]!.replace(/\s+/g, " ").trim();
  const short = instruction.length > MAX_INSTRUCTION ? `${instruction.slice(0, MAX_INSTRUCTION - 1)}…` : instruction;
  return `step ${match[1]}/${match[2]} ${short}`;
}
