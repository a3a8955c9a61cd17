export const id = 660;
export const ids = [660,750];
export const modules = {

/***/ 43660:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  runMain: () => (/* binding */ runMain)
});

// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(73024);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: external "node:url"
var external_node_url_ = __webpack_require__(73136);
;// CONCATENATED MODULE: ./src/bottle/gate-program.ts
/**
 * Finds the bundled sidecar programs copied into the bottle's sidecars: the gate
 * (dist/gate/index.js) and the supervise server (dist/supervise/index.js). Beside
 * the running bundle in dist/, or in dist/ when the sources run directly (the
 * tests); `CLAUDE_BOTTLE_GATE_PROGRAM` / `CLAUDE_BOTTLE_SUPERVISE_PROGRAM` name
 * other files.
 */




function programLoader(name, env) {
    let cached = null;
    return () => {
        cached ??= (0,promises_.readFile)(locateProgram(name, env));
        return cached;
    };
}
function gateProgramLoader(env) {
    return programLoader("gate", env);
}
function locateProgram(name, env) {
    // Paths are joined at run time: a literal `new URL(..., import.meta.url)` would make
    // the bundler inline the file as an asset of the runner bundle instead.
    const here = (0,external_node_path_.dirname)((0,external_node_url_.fileURLToPath)(import.meta.url));
    const candidates = [
        env[`CLAUDE_BOTTLE_${name.toUpperCase()}_PROGRAM`],
        // From a bundle in dist/<entry>/index.js, and from the sources in src/bottle/.
        (0,external_node_path_.join)(here, "..", name, "index.js"),
        (0,external_node_path_.join)(here, "..", "..", "dist", name, "index.js"),
    ].filter((p) => Boolean(p));
    const found = candidates.find((p) => (0,external_node_fs_.existsSync)(p));
    if (!found)
        throw new Error(`the ${name} program is missing (looked in ${candidates.join(", ")}); run \`npm run build\``);
    return found;
}

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
// EXTERNAL MODULE: ./src/docker/client.ts
var client = __webpack_require__(79949);
// EXTERNAL MODULE: ./src/docker/dockerode.ts
var dockerode = __webpack_require__(10750);
;// CONCATENATED MODULE: ./src/errors.ts
/**
 * The error a user fixes by changing what they typed: a flag, an action input, an
 * identity, a state directory they pointed at. It names the field, the value and
 * the fix, and the CLI maps it to exit code 2 with no stack trace. Everything
 * else that goes wrong is an ordinary Error with a prefixed message.
 */
class InputError extends Error {
    field;
    value;
    problem;
    fix;
    constructor(field, value, problem, fix) {
        super(`${field}: ${InputError.show(value)} ${problem}; ${fix}`);
        this.field = field;
        this.value = value;
        this.problem = problem;
        this.fix = fix;
        this.name = "InputError";
    }
    static show(value) {
        if (value === undefined)
            return "(missing)";
        const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
        return text.length > 120 ? `${text.slice(0, 117)}...` : text;
    }
}
/** A message fit for a log line, whatever was thrown. */
function errors_errorMessage(error) {
    return error instanceof Error ? error.message : String(error);
}

// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(48161);
;// CONCATENATED MODULE: ./src/bottle/identity.ts
/**
 * Bottle identities: `<agent>-<5 chars base36>`, minted fresh for every `start` so
 * parallel launches of one agent never collide, and pinned by `resume`.
 *
 * An identity becomes a directory name, container and network names and a cache
 * key, so every place that reads one from outside (a flag, an input, a restored
 * metadata file) validates it here first.
 */


const IDENTITY_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SUFFIX_LENGTH = 5;
const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";
function mintIdentity(agent, random = external_node_crypto_.randomInt) {
    let suffix = "";
    for (let i = 0; i < SUFFIX_LENGTH; i++)
        suffix += BASE36[random(BASE36.length)];
    return parseIdentity(`${agent}-${suffix}`, "identity");
}
/** Returns the identity unchanged when valid; otherwise an InputError naming `field`. */
function parseIdentity(value, field) {
    if (typeof value !== "string" || !IDENTITY_PATTERN.test(value)) {
        throw new InputError(field, value, "is not a bottle identity", "an identity is 1-63 lowercase letters, digits and hyphens starting with a letter or digit, like fixer-k3x9a (see `node runner list`)");
    }
    return value;
}

// EXTERNAL MODULE: ./node_modules/zod/v4/classic/schemas.js + 11 modules
var schemas = __webpack_require__(92857);
// EXTERNAL MODULE: ./node_modules/zod/v4/classic/iso.js
var iso = __webpack_require__(64377);
;// CONCATENATED MODULE: ./src/bottle/outcome.ts
/**
 * How a claude session ended, and what that means for the bottle's state.
 *
 * Exit codes alone lie: an API error can end with exit 0 and `is_error: true`,
 * max-turns ends with exit 1 and a `result` event, and a kill leaves no `result`
 * event at all. So the outcome is decided from the exit code, the final `result`
 * event and what the runner itself did (a timeout, an interrupt) together.
 *
 * Two outcomes come from the bottle rather than from claude: `capability-block`
 * (the agent asked for a different image and the runner ended the session to give
 * it one) and `build-failed` (the per-bottle Dockerfile did not build).
 */
const OUTCOMES = ["success", "error", "crashed", "timeout", "interrupted", "capability-block", "build-failed"];
function decideOutcome(end) {
    // An accepted proposal wins: the state is kept for the new image however claude then ended.
    if (end.capabilityBlock)
        return "capability-block";
    // What the runner did wins: claude's exit after being stopped says nothing new.
    if (end.interrupted)
        return "interrupted";
    if (end.timedOut)
        return "timeout";
    if (end.result === null)
        return end.exitCode === 0 ? "error" : "crashed";
    if (end.result.is_error)
        return "error";
    return end.exitCode === 0 ? "success" : "error";
}
/** Every outcome but a clean success keeps the state so the session can be resumed. */
function preserves(outcome) {
    return outcome !== "success";
}

;// CONCATENATED MODULE: ./src/state/metadata.ts
/**
 * `metadata.json`: what `resume` needs to rebuild a bottle and continue its session.
 * It is read back from disk (and later from a restored cache archive), so it is
 * parsed through zod like any other outside input.
 */



const MetadataSchema = schemas/* object */.Ikc({
    version: schemas/* literal */.euz(1),
    identity: schemas/* string */.YjP().regex(IDENTITY_PATTERN),
    agent: schemas/* string */.YjP().regex(/^[a-z0-9][a-z0-9-]{0,39}$/),
    /** Absolute path of the manifest, or "(embedded default)". */
    manifestPath: schemas/* string */.YjP().max(4096),
    /** The host directory the workspace was copied from, and where a success copies it back. */
    workspace: schemas/* string */.YjP().max(4096),
    sessionId: schemas/* string */.YjP().regex(/^[A-Za-z0-9-]{1,128}$/).nullable(),
    /** "running" while a runner owns the bottle. */
    outcome: schemas/* enum */.k5n([...OUTCOMES, "running"]),
    exitCode: schemas/* number */.aig().int().nullable(),
    startedAt: iso/* datetime */.w$(),
    endedAt: iso/* datetime */.w$().nullable(),
    /** How many times this identity has been launched (1 for a fresh start). */
    launches: schemas/* number */.aig().int().min(1),
    numTurns: schemas/* number */.aig().int().nonnegative().nullable(),
    costUsd: schemas/* number */.aig().nonnegative().nullable(),
    image: schemas/* string */.YjP().max(512).nullable(),
})
    .strict();

;// CONCATENATED MODULE: ./src/state/store.ts
/**
 * The per-bottle state directory on the runner's disk:
 *
 *   $CLAUDE_BOTTLE_HOME/state/<identity>/
 *     metadata.json   identity, agent, manifest, session, outcome, exit code, times
 *     Dockerfile      per-bottle override; when present the launch builds from it
 *     capability-block.json  the last accepted proposal: reason, policy, time, the Dockerfile it replaced
 *     Dockerfile.proposed    a proposal whose immediate rebuild failed (the Dockerfile above is untouched)
 *     build.log       the log of a per-bottle build that failed
 *     transcript/     snapshot of the agent's ~/.claude and ~/.claude.json
 *     workspace/      the agent's work tree, when preserved
 *     events.jsonl    claude's raw stream-json events
 *     egress.jsonl    the gate's allow/refuse decisions
 *     .preserve       marker: keep this state when the bottle is torn down
 *
 * Snapshots replace the previous one by renames, so a kill at any instant leaves
 * the last complete snapshot: a new one is unpacked into `.<name>.next`, the old
 * one is renamed to `.<name>.prev`, the new one into place, then the old one is
 * removed. `recover` puts `.prev` back if a kill fell between the two renames.
 */








const SNAPSHOT_DIRS = ["transcript", "workspace"];
class StateStore {
    home;
    root;
    constructor(home) {
        this.home = home;
        this.root = (0,external_node_path_.join)(home, "state");
    }
    /** `$CLAUDE_BOTTLE_HOME`, else `~/.claude-bottle`. */
    static fromEnv(env) {
        const home = env.CLAUDE_BOTTLE_HOME;
        return new StateStore((0,external_node_path_.resolve)(home && home.length > 0 ? home : (0,external_node_path_.join)((0,external_node_os_.homedir)(), ".claude-bottle")));
    }
    dir(identity) {
        return (0,external_node_path_.join)(this.root, parseIdentity(identity, "identity"));
    }
    metadataPath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "metadata.json");
    }
    dockerfilePath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "Dockerfile");
    }
    proposedDockerfilePath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "Dockerfile.proposed");
    }
    capabilityBlockPath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "capability-block.json");
    }
    buildLogPath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "build.log");
    }
    snapshotPath(identity, name) {
        return (0,external_node_path_.join)(this.dir(identity), name);
    }
    eventsPath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "events.jsonl");
    }
    egressPath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), "egress.jsonl");
    }
    markerPath(identity) {
        return (0,external_node_path_.join)(this.dir(identity), ".preserve");
    }
    exists(identity) {
        return (0,external_node_fs_.existsSync)(this.dir(identity));
    }
    async ensure(identity) {
        const dir = this.dir(identity);
        await (0,promises_.mkdir)(dir, { recursive: true, mode: 0o700 });
        return dir;
    }
    async readMetadata(identity) {
        let text;
        try {
            text = await (0,promises_.readFile)(this.metadataPath(identity), "utf8");
        }
        catch (error) {
            if (error.code === "ENOENT")
                return null;
            throw error;
        }
        let json;
        try {
            json = JSON.parse(text);
        }
        catch {
            throw new InputError(`${this.metadataPath(identity)}`, text.slice(0, 40), "is not JSON", "remove this state directory or restore it from a good copy");
        }
        // reportInput: the error shows the offending value, not "(missing)".
        const parsed = MetadataSchema.safeParse(json, { reportInput: true });
        if (!parsed.success) {
            const issue = parsed.error.issues[0];
            const where = issue ? issue.path.join(".") : "";
            throw new InputError(`${this.metadataPath(identity)}${where ? `: ${where}` : ""}`, issue && "input" in issue ? issue.input : undefined, `is not valid bottle metadata (${issue?.message ?? "unknown problem"})`, "remove this state directory or restore it from a good copy");
        }
        if (parsed.data.identity !== identity) {
            throw new InputError(`${this.metadataPath(identity)}: identity`, parsed.data.identity, `does not match the directory it is in (${identity})`, "the state was moved or tampered with; remove it");
        }
        return parsed.data;
    }
    /** Written by rename so a reader never sees half a file. */
    async writeMetadata(metadata) {
        await this.ensure(metadata.identity);
        await store_writeAtomic(this.metadataPath(metadata.identity), `${JSON.stringify(metadata, null, 2)}\n`);
    }
    async updateMetadata(identity, change) {
        const current = await this.readMetadata(identity);
        if (!current)
            throw new Error(`no metadata for ${identity}`);
        const next = { ...current, ...change };
        await this.writeMetadata(next);
        return next;
    }
    async readDockerfile(identity) {
        try {
            return await (0,promises_.readFile)(this.dockerfilePath(identity), "utf8");
        }
        catch (error) {
            if (error.code === "ENOENT")
                return null;
            throw error;
        }
    }
    async writeDockerfile(identity, content) {
        await this.ensure(identity);
        await store_writeAtomic(this.dockerfilePath(identity), content);
    }
    async markPreserved(identity) {
        await this.ensure(identity);
        await (0,promises_.writeFile)(this.markerPath(identity), "");
    }
    async clearPreserved(identity) {
        await (0,promises_.rm)(this.markerPath(identity), { force: true });
    }
    isPreserved(identity) {
        return (0,external_node_fs_.existsSync)(this.markerPath(identity));
    }
    async remove(identity) {
        await (0,promises_.rm)(this.dir(identity), { recursive: true, force: true });
    }
    /** Identities with a state directory, preserved or not. */
    async identities() {
        let names;
        try {
            names = await (0,promises_.readdir)(this.root);
        }
        catch (error) {
            if (error.code === "ENOENT")
                return [];
            throw error;
        }
        return names.filter((n) => /^[a-z0-9][a-z0-9-]{0,62}$/.test(n)).sort();
    }
    /**
     * Replaces snapshot `name` with what `fill` writes into a fresh directory. If
     * `fill` throws, the previous snapshot stays untouched.
     */
    async replaceSnapshot(identity, name, fill) {
        const dir = await this.ensure(identity);
        const target = (0,external_node_path_.join)(dir, name);
        const next = (0,external_node_path_.join)(dir, `.${name}.next-${(0,external_node_crypto_.randomBytes)(4).toString("hex")}`);
        const prev = (0,external_node_path_.join)(dir, `.${name}.prev`);
        await this.recoverOne(identity, name);
        await (0,promises_.mkdir)(next, { recursive: true });
        try {
            await fill(next);
        }
        catch (error) {
            await (0,promises_.rm)(next, { recursive: true, force: true });
            throw error;
        }
        if ((0,external_node_fs_.existsSync)(target))
            await (0,promises_.rename)(target, prev);
        await (0,promises_.rename)(next, target);
        await (0,promises_.rm)(prev, { recursive: true, force: true });
    }
    /** Repairs what a kill between renames left behind: the last complete snapshot wins. */
    async recover(identity) {
        for (const name of SNAPSHOT_DIRS)
            await this.recoverOne(identity, name);
    }
    async recoverOne(identity, name) {
        const dir = this.dir(identity);
        if (!(0,external_node_fs_.existsSync)(dir))
            return;
        const target = (0,external_node_path_.join)(dir, name);
        const prev = (0,external_node_path_.join)(dir, `.${name}.prev`);
        if ((0,external_node_fs_.existsSync)(prev)) {
            if ((0,external_node_fs_.existsSync)(target))
                await (0,promises_.rm)(prev, { recursive: true, force: true });
            else
                await (0,promises_.rename)(prev, target);
        }
        for (const entry of await (0,promises_.readdir)(dir)) {
            if (entry.startsWith(`.${name}.next-`))
                await (0,promises_.rm)((0,external_node_path_.join)(dir, entry), { recursive: true, force: true });
        }
    }
}
/** The old file or the new one, never half of either; a write that fails (a full disk) leaves no partial file behind. */
async function store_writeAtomic(path, content) {
    const tmp = `${path}.tmp-${(0,external_node_crypto_.randomBytes)(4).toString("hex")}`;
    try {
        await (0,promises_.writeFile)(tmp, content, { mode: 0o600 });
        await (0,promises_.rename)(tmp, path);
    }
    catch (error) {
        await (0,promises_.rm)(tmp, { force: true }).catch(() => { });
        throw error;
    }
}

;// CONCATENATED MODULE: ./src/supervise/config.ts
/**
 * The supervise sidecar's config and the proposal file it writes: the runner writes
 * the config, the sidecar reads it at start; the sidecar writes a proposal, the
 * runner reads it back. Both sides import these schemas, so what one writes the
 * other accepts. The config holds no secrets — only the Dockerfile the bottle was
 * built from and the names and upstreams of its routes.
 *
 * Bundled into the sidecar, so it imports only `node:` built-ins and zod.
 */

const SUPERVISE_PORT = 8090;
/** The name the agent reaches the sidecar by on the bottle's internal network. */
const SUPERVISE_HOST_ALIAS = "supervise";
/** Where the sidecar keeps accepted proposals, read back through the archive API. */
const PROPOSALS_DIR = "/tmp/claude-bottle-proposals";
const MAX_DOCKERFILE_BYTES = 64 * 1024;
/** A reason is a sentence or a paragraph, not a document. */
const MAX_REASON_CHARS = 4_000;
const CAPABILITY_POLICIES = ["preserve", "rebuild", "deny"];
const config_SuperviseConfigSchema = schemas/* object */.Ikc({
    version: schemas/* literal */.euz(1),
    listen: schemas/* object */.Ikc({ host: schemas/* string */.YjP().min(1), port: schemas/* int */.Whr().min(0).max(65535) }).strict(),
    policy: schemas/* enum */.k5n(CAPABILITY_POLICIES),
    maxDockerfileBytes: schemas/* int */.Whr().positive().default(MAX_DOCKERFILE_BYTES),
    proposalsDir: schemas/* string */.YjP().min(1).default(PROPOSALS_DIR),
    currentDockerfile: schemas/* object */.Ikc({ source: schemas/* enum */.k5n(["bundled", "manifest", "per-bottle", "prebuilt"]), text: schemas/* string */.YjP() })
        .strict(),
    egress: schemas/* object */.Ikc({
        mode: schemas/* enum */.k5n(["enforce", "audit"]),
        allow: schemas/* array */.YOg(schemas/* string */.YjP()),
        routes: schemas/* array */.YOg(schemas/* object */.Ikc({ name: schemas/* string */.YjP(), upstream: schemas/* string */.YjP() }).strict()),
    })
        .strict(),
})
    .strict();
const ProposalSchema = schemas/* object */.Ikc({
    version: schemas/* literal */.euz(1),
    id: schemas/* int */.Whr().min(1),
    dockerfile: schemas/* string */.YjP(),
    reason: schemas/* string */.YjP().max(MAX_REASON_CHARS),
    at: schemas/* string */.YjP(),
})
    .strict();
function proposalFileName(id) {
    return `${id}.json`;
}

// EXTERNAL MODULE: ./node_modules/dockerfile-ast/lib/main.js
var main = __webpack_require__(78390);
;// CONCATENATED MODULE: ./src/supervise/dockerfile.ts
/**
 * Is this text a Dockerfile worth building? The supervise server asks before it
 * accepts a proposal, and the runner asks again of what it reads back (from the
 * sidecar, or from a restored cache): the text is the agent's, so it is untrusted.
 * Parsing is dockerfile-ast's (the parser behind the Docker language server); the
 * rules on top are the ones a build would fail on anyway, caught before any build.
 */


const INSTRUCTIONS = new Set([
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
]);
/** What is wrong with `text` as a Dockerfile, in one sentence; null when nothing is. */
function dockerfileProblem(text, maxBytes = MAX_DOCKERFILE_BYTES) {
    if (text.trim() === "")
        return "the Dockerfile is empty";
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > maxBytes)
        return `the Dockerfile is ${bytes} bytes, over the limit of ${maxBytes}`;
    if (text.includes("\0"))
        return "the Dockerfile contains a NUL byte";
    let instructions;
    try {
        instructions = main.DockerfileParser.parse(text).getInstructions();
    }
    catch (error) {
        return `the Dockerfile does not parse (${error instanceof Error ? error.message : String(error)})`;
    }
    if (instructions.length === 0)
        return "the Dockerfile has no instructions, only comments";
    for (const instruction of instructions) {
        const keyword = instruction.getKeyword().toUpperCase();
        const line = instruction.getRange().start.line + 1;
        if (!INSTRUCTIONS.has(keyword))
            return `line ${line}: ${JSON.stringify(instruction.getKeyword())} is not a Dockerfile instruction`;
        if (instruction.getArguments().length === 0)
            return `line ${line}: ${keyword} has no arguments`;
    }
    const first = instructions[0];
    if (first && !["FROM", "ARG"].includes(first.getKeyword().toUpperCase())) {
        return `line ${first.getRange().start.line + 1}: the first instruction is ${first.getKeyword().toUpperCase()}; a Dockerfile starts with FROM (or ARG before FROM)`;
    }
    if (!instructions.some((i) => i.getKeyword().toUpperCase() === "FROM"))
        return "the Dockerfile has no FROM instruction";
    return null;
}

// EXTERNAL MODULE: ./node_modules/zod/v4/core/core.js
var core = __webpack_require__(88532);
// EXTERNAL MODULE: external "node:net"
var external_node_net_ = __webpack_require__(77030);
;// CONCATENATED MODULE: ./src/gate/address.ts
/**
 * Which resolved addresses the forward proxy refuses to connect to.
 *
 * An allowed name can still resolve to the inside: loopback, the Docker
 * networks the bottle lives on, a cloud metadata service on link-local, or any
 * private network the gate's host can reach. The proxy resolves a name once,
 * asks this module about every address it got, and connects only to an address
 * that passed, so a name that rebinds between lookups cannot steer it inward.
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address
 * they carry. Benchmarking (198.18.0.0/15) and documentation ranges are allowed:
 * they are not reachable from real networks by accident, and tests use them as
 * a stand-in internet.
 *
 * Pure functions only (plus `node:net`'s address syntax checks); this module is
 * bundled into the gate.
 */

function parseIpv4(text) {
    if (!(0,external_node_net_.isIPv4)(text))
        return undefined;
    return text.split(".").reduce((value, part) => (value << 8n) | BigInt(Number(part)), 0n);
}
function parseIpv6(text) {
    if (!(0,external_node_net_.isIPv6)(text) || text.includes("%"))
        return undefined;
    let body = text;
    const tail = [];
    const lastColon = body.lastIndexOf(":");
    const last = body.slice(lastColon + 1);
    if (last.includes(".")) {
        const v4 = parseIpv4(last);
        if (v4 === undefined)
            return undefined;
        tail.push((v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
        body = body.slice(0, lastColon + 1) + "0";
    }
    const halves = body.split("::");
    if (halves.length > 2)
        return undefined;
    const groups = (half) => (half === "" ? [] : half.split(":"));
    let words;
    if (halves.length === 2) {
        const head = groups(halves[0]);
        const rest = groups(halves[1]);
        if (tail.length > 0)
            rest.pop();
        const missing = 8 - head.length - rest.length - tail.length;
        if (missing < 1)
            return undefined;
        words = [...head, ...Array(missing).fill("0"), ...rest, ...tail];
    }
    else {
        const all = groups(body);
        if (tail.length > 0)
            all.pop();
        words = [...all, ...tail];
    }
    if (words.length !== 8)
        return undefined;
    let value = 0n;
    for (const word of words) {
        if (!/^[0-9a-f]{1,4}$/i.test(word))
            return undefined;
        value = (value << 16n) | BigInt(Number.parseInt(word, 16));
    }
    return value;
}
/** `address` as a number, or undefined when it is not an IPv4 or IPv6 address without a zone. */
function parseIp(address) {
    const v4 = parseIpv4(address);
    if (v4 !== undefined)
        return { family: 4, value: v4 };
    const v6 = parseIpv6(address);
    if (v6 !== undefined)
        return { family: 6, value: v6 };
    return undefined;
}
/** `10.0.0.0/8` or `fd00::/8` as a network, or undefined when it is not one. Host bits are cleared. */
function parseCidr(text) {
    const slash = text.indexOf("/");
    if (slash === -1)
        return undefined;
    const ip = parseIp(text.slice(0, slash));
    const prefixText = text.slice(slash + 1);
    if (ip === undefined || !/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText))
        return undefined;
    const prefix = Number(prefixText);
    const bits = ip.family === 4 ? 32 : 128;
    if (prefix > bits)
        return undefined;
    const shift = BigInt(bits - prefix);
    return { family: ip.family, network: (ip.value >> shift) << shift, prefix, text };
}
function contains(cidr, ip) {
    if (cidr.family !== ip.family)
        return false;
    const shift = BigInt((ip.family === 4 ? 32 : 128) - cidr.prefix);
    return ip.value >> shift === cidr.network >> shift;
}
function ranges(table) {
    return table.map(([text, what]) => ({ cidr: parseCidr(text), what }));
}
// Order matters only for the reason given: the narrower range names it better.
const REFUSED_V4 = ranges([
    ["0.0.0.0/8", "unspecified ('this network')"],
    ["10.0.0.0/8", "private"],
    ["100.64.0.0/10", "shared address space (CGNAT)"],
    ["127.0.0.0/8", "loopback"],
    ["169.254.0.0/16", "link-local"],
    ["172.16.0.0/12", "private"],
    ["192.0.0.0/24", "IETF protocol assignments"],
    ["192.168.0.0/16", "private"],
    ["224.0.0.0/4", "multicast"],
    ["255.255.255.255/32", "broadcast"],
    ["240.0.0.0/4", "reserved"],
]);
const REFUSED_V6 = ranges([
    ["::/128", "unspecified"],
    ["::1/128", "loopback"],
    // Deprecated IPv4-compatible addresses; nothing public lives there.
    ["::/96", "IPv4-compatible (deprecated)"],
    ["fe80::/10", "link-local"],
    ["fec0::/10", "site-local (deprecated, private)"],
    ["fc00::/7", "unique local (private)"],
    ["ff00::/8", "multicast"],
]);
const MAPPED = parseCidr("::ffff:0:0/96");
/** Why `address` is refused under `options`, or undefined when it may be connected to. */
function refusedAddressReason(address, options) {
    const ip = parseIp(address);
    if (ip === undefined)
        return `${address} is not an IP address the gate can check`;
    let judged = ip;
    let mapped = "";
    if (contains(MAPPED, ip)) {
        judged = { family: 4, value: ip.value & 0xffffffffn };
        mapped = "IPv4-mapped ";
    }
    for (const { cidr, what } of judged.family === 4 ? REFUSED_V4 : REFUSED_V6) {
        if (contains(cidr, judged))
            return `${address} is a ${mapped}${what} address`;
    }
    for (const cidr of options.denied) {
        if (contains(cidr, judged) || contains(cidr, ip))
            return `${address} is inside the denied network ${cidr.text}`;
    }
    for (const own of options.ownAddresses?.() ?? []) {
        const other = parseIp(own.replace(/%.*$/, ""));
        if (other !== undefined && other.family === judged.family && other.value === judged.value) {
            return `${address} is one of the gate's own addresses`;
        }
    }
    return undefined;
}
/** The policy the proxy uses: the built-in refused ranges, `denied`, and the gate's own addresses. */
function createAddressPolicy(options) {
    return (address) => refusedAddressReason(address, options);
}

;// CONCATENATED MODULE: ./src/gate/hosts.ts
/**
 * Which names the forward proxy may reach: reading a `host:port` the client
 * sent, putting the host in its one canonical form, and matching it against the
 * allowlist.
 *
 * Everything here runs before any DNS lookup, so a name it refuses is never
 * resolved. Only plain ASCII host names get through: every IP literal (dotted,
 * decimal, hex, octal, short forms, IPv6), user info, paths, fragments and
 * non-ASCII names are refused rather than interpreted, because each of those is
 * a place where two parsers can disagree about which host is meant. Unicode
 * names are refused outright instead of being converted with IDNA: an
 * allowlist that needs one lists its punycode (`xn--…`) form, and the agent's
 * tools send that form anyway.
 *
 * Pure functions only; this module is bundled into the gate.
 */
const MAX_HOST_LENGTH = 253;
const LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// A host whose last label is a number is an IPv4 address to URL parsers and to
// inet_aton (`10.1`, `0x7f.1`, `0306.022.0.012`, `3323068426`).
const NUMERIC_LABEL_PATTERN = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const PORT_PATTERN = /^[1-9][0-9]{0,4}$/;
const NON_ASCII = /[^\x00-\x7f]/;
/** `text` quoted and cut short enough for one line of a log or a 403 body. */
function show(text) {
    return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}
/**
 * The canonical form of `raw`: lowercase, one trailing dot dropped. Refuses
 * anything that is not an ASCII host name made of 1-63 character labels of
 * letters, digits and inner hyphens, at most 253 characters, whose last label
 * is not a number.
 */
function normaliseHost(raw) {
    if (raw === "")
        return { refused: "the host is empty" };
    // Checked before lowercasing: "K" (U+212A KELVIN SIGN) lowercases to an ASCII "k".
    if (NON_ASCII.test(raw)) {
        return { refused: `the host ${show(raw)} is not plain ASCII; internationalised names must be written in punycode (xn--...)` };
    }
    let host = raw.toLowerCase();
    if (host.endsWith("."))
        host = host.slice(0, -1);
    if (host === "")
        return { refused: `the host ${show(raw)} is empty` };
    if (host.length > MAX_HOST_LENGTH)
        return { refused: `the host is longer than ${MAX_HOST_LENGTH} characters` };
    const labels = host.split(".");
    if (labels.includes(""))
        return { refused: `the host ${show(raw)} has an empty label` };
    if (NUMERIC_LABEL_PATTERN.test(labels.at(-1))) {
        return { refused: `the host ${show(raw)} is an IP address; only host names are allowed` };
    }
    const bad = labels.find((label) => !LABEL_PATTERN.test(label));
    if (bad !== undefined) {
        return {
            refused: `the host ${show(raw)} has the label ${show(bad)}; a label is 1-63 letters, digits and inner hyphens`,
        };
    }
    return { ok: host };
}
function parsePort(text) {
    if (!PORT_PATTERN.test(text) || Number(text) > 65535) {
        return { refused: `the port ${show(text)} is not a decimal number 1-65535` };
    }
    return { ok: Number(text) };
}
/**
 * An authority (`host:port`, or `host` when `defaultPort` is given) as a
 * canonical host and a port. The CONNECT target and the authority of an
 * absolute-form `http://` URL both go through here.
 */
function parseAuthority(authority, defaultPort) {
    if (authority.includes("@"))
        return { refused: "the target has user info (@); give only host:port" };
    if (/[/?#\\]/.test(authority))
        return { refused: "the target has a path, query or fragment; give only host:port" };
    if (authority.startsWith("[") || authority.includes("]"))
        return { refused: "the target is an IPv6 address; only host names are allowed" };
    const colons = authority.split(":").length - 1;
    if (colons > 1)
        return { refused: "the target is an IPv6 address or has two ports; only host:port is allowed" };
    let hostText = authority;
    let port;
    if (colons === 1) {
        const at = authority.indexOf(":");
        hostText = authority.slice(0, at);
        const parsed = parsePort(authority.slice(at + 1));
        if ("refused" in parsed)
            return parsed;
        port = parsed.ok;
    }
    else if (defaultPort !== undefined) {
        port = defaultPort;
    }
    else {
        return { refused: "the target has no port; CONNECT needs host:port" };
    }
    const host = normaliseHost(hostText);
    if ("refused" in host)
        return host;
    return { ok: { host: host.ok, port } };
}
/**
 * The canonical form of an allowlist host, `example.com` or `*.example.com`, or
 * why it cannot be one. The same rules as the manifest's allow list: a full
 * name with a dot in it, and a wildcard only as the whole first label of one.
 */
function normaliseAllowHost(raw) {
    const wildcard = raw.startsWith("*.");
    const rest = wildcard ? raw.slice(2) : raw;
    if (rest.includes("*"))
        return { refused: "a wildcard must be the whole first label, like *.example.com" };
    if (/[:@/?#[\]]/.test(rest))
        return { refused: "give only the host name; the port is a field of its own" };
    const host = normaliseHost(rest);
    if ("refused" in host)
        return host;
    if (!host.ok.includes(".")) {
        return {
            refused: wildcard
                ? "a wildcard is too broad over a single label; write it like *.example.com"
                : "the host has no dot; give a full host name like api.github.com",
        };
    }
    return { ok: wildcard ? `*.${host.ok}` : host.ok };
}
/** True when `host` (canonical) is the entry's host, or below it for a `*.` entry; the entry itself is canonical. */
function hostMatches(entryHost, host) {
    if (entryHost.startsWith("*.")) {
        const suffix = entryHost.slice(1);
        return host.length > suffix.length && host.endsWith(suffix);
    }
    return host === entryHost;
}
/** The first entry that lets `host:port` through, if any. */
function findAllowed(allow, host, port) {
    return allow.find((entry) => entry.port === port && hostMatches(entry.host, host));
}
/** Why the allowlist refuses `host:port`, or undefined when an entry allows it. */
function allowlistProblem(allow, host, port) {
    if (findAllowed(allow, host, port) !== undefined)
        return undefined;
    const hostListed = allow.some((entry) => hostMatches(entry.host, host));
    return hostListed
        ? `port ${port} is not allowed for ${host}`
        : `${host} is not on the allowlist`;
}

;// CONCATENATED MODULE: ./src/gate/config.ts
/**
 * The gate's config: the JSON file the runner writes and the gate reads at start.
 *
 * Runner and gate import the same schema, so a config the runner can write is
 * exactly a config the gate accepts, and both derive a route's secret variable
 * from `secretEnvName`. The file holds no secrets, only the *names* of the gate's
 * environment variables that do: the config may be logged, copied into the gate
 * container's filesystem and read back by anyone, the environment may not.
 *
 * The `proxy` section is the bottle's egress policy for everything that is not a
 * route: which `host:port` pairs the forward proxy may reach, which networks it
 * must never connect to, and how long a tunnel may live. Every field has a
 * default, so a config without it parses to "refuse everything". Allowlist
 * hosts are put in the same canonical form the proxy matches against.
 *
 * This module is bundled into the gate, so it may import only `node:` built-ins
 * and zod.
 */



/** The port the gate listens on inside its container. */
const GATE_PORT = 8080;
/** The name the agent container resolves the gate by on the internal network. */
const GATE_HOST_ALIAS = "gate";
const ROUTE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 token: what Node accepts as a header name.
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers the gate sets or strips itself; injecting into one would either be
// overwritten or corrupt the framing of the forwarded request.
const RESERVED_HEADERS = new Set([
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "expect",
]);
/** `GATE_SECRET_<ROUTE NAME UPPERCASED, - → _>`: the variable holding a route's credential. */
function secretEnvName(routeName) {
    return `GATE_SECRET_${routeName.toUpperCase().replaceAll("-", "_")}`;
}
/** Why `value` cannot be a route's upstream, or undefined when it can. */
function upstreamProblem(value) {
    let url;
    try {
        url = new URL(value);
    }
    catch {
        return "is not an absolute URL; write it like https://api.anthropic.com";
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
        return "must use http or https";
    if (url.username !== "" || url.password !== "") {
        return "must not carry credentials; put them in the route's inject secret";
    }
    if (url.search !== "" || url.hash !== "")
        return "must not carry a query or fragment; only a path prefix";
    return undefined;
}
const UpstreamSchema = schemas/* string */.YjP().superRefine((value, ctx) => {
    const problem = upstreamProblem(value);
    if (problem !== undefined)
        ctx.addIssue({ code: "custom", message: `upstream ${JSON.stringify(value)} ${problem}` });
});
const InjectSchema = schemas/* strictObject */.rej({
    header: schemas/* string */.YjP()
        .regex(HEADER_NAME_PATTERN, "inject.header must be an HTTP header name like x-api-key")
        .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), {
        message: "inject.header must not be a header the gate manages (host, hop-by-hop, content-length, expect)",
    }),
    secretEnv: schemas/* string */.YjP()
        .regex(ENV_NAME_PATTERN, "inject.secretEnv must be an environment variable name like GATE_SECRET_ANTHROPIC"),
    format: schemas/* string */.YjP()
        .max(200)
        .refine((f) => f.split("{value}").length === 2 && !/[\r\n]/.test(f), "inject.format must hold {value} exactly once and no line break")
        .optional(),
});
const RouteSchema = schemas/* strictObject */.rej({
    name: schemas/* string */.YjP()
        .regex(ROUTE_NAME_PATTERN, "route name must be 1-40 lowercase letters, digits and hyphens, starting with a letter or digit"),
    upstream: UpstreamSchema,
    inject: InjectSchema.optional(),
});
const ListenSchema = schemas/* strictObject */.rej({
    host: schemas/* string */.YjP().min(1).default("0.0.0.0"),
    port: schemas/* int */.Whr().min(0).max(65535).default(GATE_PORT),
});
// Timers in Node overflow past 2^31-1 ms and fire at once.
const MAX_TIMER_MS = 2_147_483_647;
function durationSchema(name, fallback) {
    return schemas/* int */.Whr(`${name} must be a whole number of milliseconds`)
        .min(1, `${name} must be at least 1 ms`)
        .max(MAX_TIMER_MS, `${name} must be at most ${MAX_TIMER_MS} ms (about 24 days)`)
        .default(fallback);
}
const AllowHostSchema = schemas/* string */.YjP().transform((value, ctx) => {
    const host = normaliseAllowHost(value);
    if ("refused" in host) {
        ctx.addIssue({ code: "custom", message: `allow host ${JSON.stringify(value)}: ${host.refused}` });
        return core/* NEVER */.tm;
    }
    return host.ok;
});
const AllowEntrySchema = schemas/* strictObject */.rej({
    host: AllowHostSchema,
    port: schemas/* int */.Whr().min(1, "allow port must be 1-65535").max(65535, "allow port must be 1-65535").default(443),
});
const CidrSchema = schemas/* string */.YjP().refine((value) => parseCidr(value) !== undefined, {
    error: (issue) => `deniedCidrs entry ${JSON.stringify(issue.input)} is not a network; write it like 172.18.0.0/16 or fd00::/8`,
});
const ProxySchema = schemas/* strictObject */.rej({
    /** `audit` lets through what the allowlist and SNI checks would refuse, and logs it. */
    mode: schemas/* enum */.k5n(["enforce", "audit"]).default("enforce"),
    allow: schemas/* array */.YOg(AllowEntrySchema).default([]),
    deniedCidrs: schemas/* array */.YOg(CidrSchema).default([]),
    tunnelMaxLifetimeMs: durationSchema("tunnelMaxLifetimeMs", 30 * 60_000),
    tunnelIdleMs: durationSchema("tunnelIdleMs", 5 * 60_000),
    connectTimeoutMs: durationSchema("connectTimeoutMs", 10_000),
});
const GateConfigSchema = schemas/* strictObject */.rej({
    version: schemas/* literal */.euz(1),
    listen: ListenSchema.prefault({}),
    proxy: ProxySchema.prefault({}),
    routes: schemas/* array */.YOg(RouteSchema).superRefine((routes, ctx) => {
        const seen = new Set();
        routes.forEach((route, index) => {
            if (seen.has(route.name)) {
                ctx.addIssue({ code: "custom", path: [index, "name"], message: `route name ${JSON.stringify(route.name)} is used twice` });
            }
            seen.add(route.name);
        });
    }),
});

// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(46466);
// EXTERNAL MODULE: ./node_modules/tar-fs/index.js
var tar_fs = __webpack_require__(35645);
// EXTERNAL MODULE: ./node_modules/tar-stream/index.js
var tar_stream = __webpack_require__(56118);
;// CONCATENATED MODULE: ./src/bottle/archive.ts
/**
 * Tar streams in and out of containers (the archive API is the only way files move,
 * so the runner works even when it is itself a container on the host's daemon).
 *
 * tar-fs and tar-stream do the format work. Extraction uses tar-fs's strict mode:
 * no devices, no symlinks or hardlinks pointing outside the target, never writing
 * through an existing symlink, no setuid bits — the archives come from a container
 * the agent controls, so they are untrusted.
 */




const AGENT_OWNER = { uid: 1000, gid: 1000 };
const ROOT_OWNER = { uid: 0, gid: 0 };
/** A tar of a host directory, its entries under `prefix/` and owned by `owner` inside the container. */
function packDirectory(dir, owner, prefix) {
    return tar_fs/* pack */.q(dir, {
        map(header) {
            header.uid = owner.uid;
            header.gid = owner.gid;
            const name = header.name === "." || header.name === "" ? "" : header.name.replace(/^\.\//, "");
            header.name = prefix ? (name ? `${prefix}/${name}` : prefix) : name || ".";
            return header;
        },
    });
}
/** A tar of in-memory files (and their parent directories), owned by `owner`. */
async function packFiles(files, owner) {
    const pack = tar_stream.pack();
    const dirs = new Set();
    for (const file of files) {
        const parts = file.name.split("/").slice(0, -1);
        for (let i = 1; i <= parts.length; i++) {
            const dir = parts.slice(0, i).join("/");
            if (dir && !dirs.has(dir)) {
                dirs.add(dir);
                pack.entry({ name: dir, type: "directory", mode: 0o755, uid: owner.uid, gid: owner.gid });
            }
        }
        pack.entry({ name: file.name, mode: file.mode ?? 0o644, uid: owner.uid, gid: owner.gid }, file.content);
    }
    pack.finalize();
    const chunks = [];
    for await (const chunk of pack)
        chunks.push(chunk);
    return Buffer.concat(chunks);
}
/**
 * Unpacks a tar stream into `dir`, dropping the first `strip` path components
 * (getArchive of `/home/node/workspace` yields entries under `workspace/`).
 */
async function extractInto(tar, dir, strip = 0) {
    await (0,promises_.mkdir)(dir, { recursive: true });
    await (0,external_node_stream_promises_.pipeline)(tar, tar_fs/* extract */.o(dir, { strip, chown: false, strict: true }));
}
/**
 * The regular files of a tar stream as buffers, by their path in the archive. For
 * small files only: the whole stream is refused once it holds more than `maxBytes`.
 */
async function archive_readTarFiles(tar, maxBytes) {
    const files = new Map();
    const extract = tar_stream.extract();
    let total = 0;
    const done = new Promise((resolve, reject) => {
        extract.on("entry", (header, stream, next) => {
            const chunks = [];
            stream.on("data", (data) => {
                const chunk = data;
                total += chunk.length;
                if (total > maxBytes) {
                    extract.destroy(new Error(`the archive holds more than ${maxBytes} bytes`));
                    return;
                }
                if (header.type === "file")
                    chunks.push(chunk);
            });
            stream.on("end", () => {
                if (header.type === "file")
                    files.set(header.name, Buffer.concat(chunks));
                next();
            });
        });
        extract.on("finish", resolve);
        extract.on("error", reject);
    });
    tar.on("error", (error) => extract.destroy(error));
    tar.pipe(extract);
    await done;
    return files;
}

;// CONCATENATED MODULE: ./src/bottle/claude.ts
const AGENT_HOME = "/home/node";
const AGENT_WORKSPACE = "/home/node/workspace";
const claude_AGENT_USER = "node";
/** The appended system prompt lives outside the workspace, read-only for the agent. */
const SYSTEM_PROMPT_PATH = "/opt/claude-bottle/system-prompt.md";
/** The wrapper records claude's pid here so the runner can stop it on timeout or interrupt. */
const CLAUDE_PID_FILE = "/tmp/claude-bottle.pid";
const DEFAULT_RESUME_PROMPT = "Your previous session in this bottle was interrupted. Continue where you left off and finish the task.";
/** The resume prompt after the bottle was rebuilt from the agent's own proposal. */
const REBUILT_RESUME_PROMPT = "This bottle was rebuilt from the Dockerfile you proposed with capability-block: the image now has what you asked for. Continue where you left off and finish the task.";
function claudeArgs(options) {
    const args = [
        "claude",
        "-p",
        options.prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        "--append-system-prompt-file",
        SYSTEM_PROMPT_PATH,
        "--dangerously-skip-permissions",
    ];
    if (options.model)
        args.push("--model", options.model);
    if (options.maxTurns)
        args.push("--max-turns", String(options.maxTurns));
    if (options.resumeSession)
        args.push("--resume", options.resumeSession);
    // Strict: a .mcp.json in the workspace must not add servers next to the runner's own.
    if (options.mcpConfig)
        args.push("--mcp-config", options.mcpConfig, "--strict-mcp-config");
    return args;
}
/** `sh -c` wrapper: record the pid, then become claude so signals reach it directly. */
function claudeCommand(options) {
    return ["sh", "-c", `echo $$ > ${CLAUDE_PID_FILE}; exec "$@"`, "claude-bottle", ...claudeArgs(options)];
}
/** Sends `signal` to claude inside the container (runs as the agent user, needs no capability). */
function claude_signalCommand(signal) {
    return ["sh", "-c", `[ -f ${CLAUDE_PID_FILE} ] && kill -${signal} "$(cat ${CLAUDE_PID_FILE})" 2>/dev/null; true`];
}
/** Follows one claude session's stream-json output. */
class ClaudeStream {
    sessionId = null;
    result = null;
    turns = 0;
    /** Feeds one stdout line; returns what it means for the log and for snapshots. */
    accept(line) {
        const trimmed = line.trim();
        if (!trimmed)
            return { event: null, progress: null, turnEnded: false };
        let event;
        try {
            const parsed = JSON.parse(trimmed);
            if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
                throw new Error("not an object");
            event = parsed;
        }
        catch {
            return { event: null, progress: `claude: ${clip(trimmed)}`, turnEnded: false };
        }
        if (typeof event.session_id === "string" && !this.sessionId)
            this.sessionId = event.session_id;
        const effects = this.describe(event);
        return { event, ...effects };
    }
    describe(event) {
        switch (event.type) {
            case "system":
                if (event.subtype === "init") {
                    return { progress: `session ${String(event.session_id)} started (model ${String(event.model ?? "default")})`, turnEnded: false };
                }
                return { progress: null, turnEnded: false };
            case "assistant": {
                this.turns++;
                const blocks = contentBlocks(event);
                const lines = blocks.map(describeBlock).filter((l) => l !== null);
                const usesTools = blocks.some((b) => b.type === "tool_use");
                return { progress: lines.length > 0 ? lines.join("\n") : null, turnEnded: !usesTools };
            }
            case "user": {
                const results = contentBlocks(event).filter((b) => b.type === "tool_result");
                const failed = results.filter((b) => b.is_error).length;
                const progress = results.length > 0 ? `  ↳ ${results.length} tool result${results.length > 1 ? "s" : ""}${failed ? ` (${failed} failed)` : ""}` : null;
                return { progress, turnEnded: results.length > 0 };
            }
            case "result": {
                this.result = {
                    subtype: String(event.subtype ?? "unknown"),
                    is_error: event.is_error === true,
                    ...(typeof event.session_id === "string" ? { session_id: event.session_id } : {}),
                    ...(typeof event.num_turns === "number" ? { num_turns: event.num_turns } : {}),
                    ...(typeof event.total_cost_usd === "number" ? { total_cost_usd: event.total_cost_usd } : {}),
                    ...(typeof event.result === "string" ? { result: event.result } : {}),
                };
                const cost = typeof event.total_cost_usd === "number" ? `, $${event.total_cost_usd.toFixed(4)}` : "";
                return {
                    progress: `result: ${this.result.subtype}${this.result.is_error ? " (error)" : ""}, ${this.result.num_turns ?? this.turns} turns${cost}`,
                    turnEnded: true,
                };
            }
            default:
                return { progress: null, turnEnded: false };
        }
    }
}
function contentBlocks(event) {
    const message = event.message;
    return Array.isArray(message?.content) ? message.content : [];
}
function describeBlock(block) {
    if (block.type === "text" && block.text)
        return `claude: ${clip(block.text)}`;
    if (block.type === "tool_use") {
        const input = block.input;
        const detail = input?.command ?? input?.file_path ?? input?.pattern ?? input?.url ?? "";
        return `tool ${block.name ?? "?"}${detail ? `: ${clip(String(detail))}` : ""}`;
    }
    return null;
}
function clip(text, max = 200) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

;// CONCATENATED MODULE: ./src/bottle/egress-log.ts
/**
 * The gate's egress decisions, as the runner keeps them: every `egress` event the
 * gate prints becomes one line of `egress.jsonl` in the state directory, and the
 * counts become the summary printed when the run ends (hosts reached, hosts
 * refused), so a user can learn what an agent needs before locking it down.
 */

class EgressLog {
    file;
    summary = { reached: {}, refused: {} };
    constructor(path) {
        this.file = (0,external_node_fs_.createWriteStream)(path, { flags: "a", mode: 0o600 });
    }
    /** One line of the gate's stdout; anything but an egress decision is ignored. */
    accept(line) {
        let event;
        try {
            event = JSON.parse(line);
        }
        catch {
            return;
        }
        if (event.event !== "egress")
            return;
        this.file.write(`${line}\n`);
        const target = `${String(event.host)}${event.port === null || event.port === undefined ? "" : `:${String(event.port)}`}`;
        const bucket = event.decision === "allow" ? this.summary.reached : this.summary.refused;
        if (event.decision === "audit")
            this.summary.reached[target] = (this.summary.reached[target] ?? 0) + 1;
        bucket[target] = (bucket[target] ?? 0) + 1;
    }
    async close() {
        await new Promise((resolve) => this.file.end(resolve));
    }
}
function describeEgress(summary) {
    const list = (counts) => Object.entries(counts)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([host, n]) => `${host} (${n})`)
        .join(", ") || "none";
    return `egress: reached ${list(summary.reached)}; refused ${list(summary.refused)}`;
}

;// CONCATENATED MODULE: ./src/bottle/images.ts


const CONTEXT_DOCKERFILE = ".claude-bottle.Dockerfile";
async function buildContext(contextDir, dockerfile) {
    const addDockerfile = (pack) => {
        pack.entry({ name: CONTEXT_DOCKERFILE, mode: 0o644 }, dockerfile);
        pack.finalize();
    };
    if (!contextDir) {
        const pack = tar_stream.pack();
        addDockerfile(pack);
        return pack;
    }
    // tar-fs leaves the pack open (finalize: false) and calls `finish` once the directory is in.
    return tar_fs/* pack */.q(contextDir, {
        finalize: false,
        finish: addDockerfile,
        ignore: (name) => name.endsWith(`/${CONTEXT_DOCKERFILE}`),
    });
}

;// CONCATENATED MODULE: ./src/bottle/agent-dockerfile.ts
/**
 * The bundled agent Dockerfile, used when a bottle names neither `image` nor
 * `dockerfile`. Its base is a build arg so a machine without a registry can build
 * it on a local base (`buildArgs.BASE_IMAGE`, or `CLAUDE_BOTTLE_BASE_IMAGE`);
 * claude-code is installed only when the base lacks it, and the agent runs as the
 * non-root `node` user because `--dangerously-skip-permissions` refuses root.
 */
const DEFAULT_BASE_IMAGE = "node:24-bookworm-slim";
const CLAUDE_CODE_VERSION = "2.1.197";
const AGENT_DOCKERFILE = `# claude-bottle agent image
ARG BASE_IMAGE=${DEFAULT_BASE_IMAGE}
FROM \${BASE_IMAGE}
ARG CLAUDE_CODE_VERSION=${CLAUDE_CODE_VERSION}
USER root
RUN command -v claude >/dev/null 2>&1 || npm install --global --no-fund --no-audit "@anthropic-ai/claude-code@\${CLAUDE_CODE_VERSION}"
RUN id -u node >/dev/null 2>&1 || useradd --create-home --uid 1000 --user-group --shell /bin/sh node
RUN mkdir -p /home/node/workspace /home/node/.claude && chown -R node:node /home/node
ENV CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1
USER node
WORKDIR /home/node/workspace
`;

;// CONCATENATED MODULE: ./src/bottle/plan.ts
/**
 * Resolving a launch plan: everything a launch will do, decided before any Docker
 * resource exists. Pure apart from reading the environment it is handed, so a bad
 * input fails here with nothing created, and `--dry-run` prints exactly this.
 *
 * The plan holds no credential values: a route names the runner environment
 * variable its credential comes from, and the value is read only when the gate
 * container is created.
 */









/** The placeholder the agent holds instead of a key; leaking it tells an attacker nothing. */
const PLACEHOLDER_API_KEY = "sk-ant-bottle-placeholder-the-gate-holds-the-real-key";
const PLACEHOLDER_OAUTH_TOKEN = "sk-ant-oat01-bottle-placeholder-the-gate-holds-the-real-token";
const DEFAULT_GATE_IMAGE = "node:24.11.1-bookworm-slim";
const DEFAULT_SNAPSHOT_INTERVAL_MS = 30_000;
function resolvePlan(request) {
    const { manifest } = request.loaded;
    const agent = manifest.agents[request.agent];
    if (!agent) {
        throw new InputError("agent", request.agent, `is not an agent in ${request.loaded.path}`, `use one of: ${Object.keys(manifest.agents).join(", ")}`);
    }
    const bottle = manifest.bottles[agent.bottle];
    if (!bottle)
        throw new Error(`manifest validation let agent ${request.agent} name a missing bottle`);
    const bottlePath = `bottles.${agent.bottle}`;
    const identity = request.identity;
    const prefix = `claude-bottle-${identity}`;
    const credentials = [];
    const routes = [];
    const secretSources = new Set();
    let anthropicRoute = null;
    for (const route of bottle.egress.routes) {
        if (route.inject) {
            credentials.push({
                route: route.name,
                header: route.inject.header,
                fromEnv: route.inject.fromEnv,
                present: Boolean(request.env[route.inject.fromEnv]),
            });
            secretSources.add(route.inject.fromEnv);
        }
        routes.push({
            name: route.name,
            upstream: route.upstream,
            ...(route.inject
                ? { inject: { header: route.inject.header, secretEnv: secretEnvName(route.name), ...(route.inject.format ? { format: route.inject.format } : {}) } }
                : {}),
        });
        if (route.role)
            anthropicRoute = { name: route.name, oauth: route.role === "anthropic-oauth" };
    }
    const gateUrl = `http://${GATE_HOST_ALIAS}:${GATE_PORT}`;
    // Tools that honour proxy variables go through the gate's forward proxy; anything
    // that ignores them finds no route out of the internal network at all.
    const proxyEnv = {
        HTTPS_PROXY: gateUrl,
        HTTP_PROXY: gateUrl,
        https_proxy: gateUrl,
        http_proxy: gateUrl,
        NO_PROXY: bottle.supervise ? `${GATE_HOST_ALIAS},${SUPERVISE_HOST_ALIAS}` : GATE_HOST_ALIAS,
        no_proxy: bottle.supervise ? `${GATE_HOST_ALIAS},${SUPERVISE_HOST_ALIAS}` : GATE_HOST_ALIAS,
    };
    const env = {
        HOME: AGENT_HOME,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        DISABLE_AUTOUPDATER: "1",
        DISABLE_ERROR_REPORTING: "1",
        DISABLE_TELEMETRY: "1",
        ...proxyEnv,
    };
    const gateOwned = new Set(Object.keys(proxyEnv));
    if (anthropicRoute) {
        env.ANTHROPIC_BASE_URL = `${gateUrl}/${anthropicRoute.name}`;
        // claude-code refuses to start without a credential; it gets one that is worth nothing.
        if (anthropicRoute.oauth)
            env.CLAUDE_CODE_OAUTH_TOKEN = PLACEHOLDER_OAUTH_TOKEN;
        else
            env.ANTHROPIC_API_KEY = PLACEHOLDER_API_KEY;
        gateOwned.add("ANTHROPIC_BASE_URL").add("ANTHROPIC_API_KEY").add("ANTHROPIC_AUTH_TOKEN").add("CLAUDE_CODE_OAUTH_TOKEN");
    }
    for (const [name, value] of Object.entries(bottle.env)) {
        const field = `${bottlePath}.env.${name}`;
        if (gateOwned.has(name)) {
            throw new InputError(field, name, "is set by the gate", "remove it from env: the gate sets the proxy variables and, with an anthropic route, the API URL and a placeholder key");
        }
        if (typeof value === "string") {
            for (const source of secretSources) {
                const secret = request.env[source];
                if (secret && value.includes(secret)) {
                    throw new InputError(field, "(redacted)", `contains the credential a route injects from ${source}`, "the agent must never hold a credential; let the gate inject it");
                }
            }
            env[name] = value;
            continue;
        }
        if (secretSources.has(value.fromEnv)) {
            throw new InputError(`${field}.fromEnv`, value.fromEnv, "is the credential a route injects", "the agent must never hold a credential; remove this env entry and let the gate inject it");
        }
        const hostValue = request.env[value.fromEnv];
        if (hostValue === undefined) {
            throw new InputError(`${field}.fromEnv`, value.fromEnv, "is not set in the runner's environment", `export ${value.fromEnv} before launching, or give ${name} a literal value`);
        }
        env[name] = hostValue;
    }
    const image = resolveImage(request, bottle, bottlePath, identity);
    const limits = bottle.limits;
    // claude-code needs only the model API; through an anthropic route it needs no direct host at all.
    const defaults = anthropicRoute ? [] : [...CLAUDE_CODE_HOSTS];
    const allow = [...bottle.egress.allow, ...defaults.filter((d) => !bottle.egress.allow.includes(d))].map(allowEntry);
    const egressNetwork = request.env.CLAUDE_BOTTLE_EGRESS_NETWORK;
    const gateImage = request.gateImage ?? request.env.CLAUDE_BOTTLE_GATE_IMAGE ?? DEFAULT_GATE_IMAGE;
    const policy = request.capabilityBlock ?? bottle.capabilityBlock;
    const maxRebuilds = request.maxRebuilds ?? bottle.maxRebuilds;
    const supervise = bottle.supervise
        ? {
            name: `${prefix}-supervise`,
            // The sidecar needs only Node, which the gate image has.
            image: gateImage,
            policy: policy === "rebuild" && maxRebuilds === 0 ? "preserve" : policy,
            rebuildsLeft: policy === "rebuild" ? maxRebuilds : 0,
            config: {
                version: 1,
                listen: { host: "0.0.0.0", port: SUPERVISE_PORT },
                policy: policy === "rebuild" && maxRebuilds === 0 ? "preserve" : policy,
                maxDockerfileBytes: MAX_DOCKERFILE_BYTES,
                proposalsDir: PROPOSALS_DIR,
                currentDockerfile: currentDockerfile(image),
                egress: {
                    mode: bottle.egress.mode,
                    allow: allow.map((a) => `${a.host}:${a.port}`),
                    routes: routes.map((r) => ({ name: r.name, upstream: r.upstream })),
                },
            },
        }
        : null;
    const claude = {
        prompt: request.prompt,
        model: agent.model,
        maxTurns: agent.maxTurns,
        resumeSession: request.resumeSession,
        ...(supervise ? { mcpConfig: superviseMcpConfig() } : {}),
    };
    const gateDns = (request.env.CLAUDE_BOTTLE_GATE_DNS ?? "").split(",").map((d) => d.trim()).filter(Boolean);
    return {
        identity,
        agent: request.agent,
        bottle: agent.bottle,
        mode: request.mode,
        manifestPath: request.loaded.path,
        workspace: request.workspace,
        prompt: request.prompt,
        resumeSession: request.resumeSession,
        systemPrompt: agent.prompt,
        image,
        agentContainer: {
            name: `${prefix}-agent`,
            user: "node",
            env,
            command: claudeCommand(claude),
            memoryBytes: limits.memoryBytes,
            nanoCpus: Math.round(limits.cpus * 1e9),
            pidsLimit: limits.pids,
            runtime: request.runtimes.includes("runsc") ? "runsc" : null,
        },
        claude,
        supervise,
        gate: {
            name: `${prefix}-gate`,
            image: gateImage,
            config: {
                version: 1,
                listen: { host: "0.0.0.0", port: GATE_PORT },
                proxy: {
                    mode: bottle.egress.mode,
                    allow,
                    deniedCidrs: [],
                    tunnelIdleMs: bottle.egress.tunnelIdleMs,
                    tunnelMaxLifetimeMs: bottle.egress.tunnelLifetimeMs,
                },
                routes,
            },
            credentials,
            dns: gateDns,
        },
        networks: {
            internal: `${prefix}-internal`,
            egress: egressNetwork || `${prefix}-egress`,
            egressExternal: Boolean(egressNetwork),
        },
        egress: { mode: bottle.egress.mode, allow, defaults },
        labels: { [client/* IDENTITY_LABEL */.ss]: identity, [client/* RUNNER_LABEL */.$6]: request.runnerId, "claude-bottle.agent": request.agent },
        timeoutMs: limits.timeoutMs,
        snapshotIntervalMs: request.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS,
    };
}
function resolveImage(request, bottle, bottlePath, identity) {
    const buildArgs = { ...bottle.buildArgs };
    const manifestDockerfile = bottle.dockerfile ? (0,external_node_path_.resolve)(request.loaded.dir, bottle.dockerfile) : null;
    if (request.perBottleDockerfile !== null) {
        // The per-bottle override wins over everything: it is what a capability-block asked for.
        const replaces = bottle.image
            ? `FROM ${bottle.image}\n`
            : manifestDockerfile
                ? readDockerfile(manifestDockerfile, `${bottlePath}.dockerfile`, bottle.dockerfile ?? "")
                : AGENT_DOCKERFILE;
        return {
            kind: "build",
            tag: `claude-bottle-bottle:${identity}`,
            source: "per-bottle",
            replaces,
            dockerfile: request.perBottleDockerfile,
            dockerfilePath: "state/<identity>/Dockerfile",
            contextDir: manifestDockerfile ? (0,external_node_path_.dirname)(manifestDockerfile) : null,
            buildArgs: withBaseImage(buildArgs, request.env),
            reuse: false,
        };
    }
    if (bottle.image)
        return { kind: "prebuilt", ref: bottle.image };
    if (manifestDockerfile) {
        const text = readDockerfile(manifestDockerfile, `${bottlePath}.dockerfile`, bottle.dockerfile ?? "");
        return {
            kind: "build",
            tag: `claude-bottle-agent:${request.agent}-${hash(text + JSON.stringify(Object.entries(buildArgs).sort()))}`,
            source: "manifest",
            dockerfile: text,
            dockerfilePath: manifestDockerfile,
            contextDir: (0,external_node_path_.dirname)(manifestDockerfile),
            buildArgs,
            reuse: false,
        };
    }
    const args = withBaseImage(buildArgs, request.env);
    return {
        kind: "build",
        tag: `claude-bottle-agent:${hash(AGENT_DOCKERFILE + JSON.stringify(Object.entries(args).sort()))}`,
        source: "bundled",
        dockerfile: AGENT_DOCKERFILE,
        dockerfilePath: null,
        contextDir: null,
        buildArgs: args,
        reuse: true,
    };
}
/** The `--mcp-config` document that points claude at the supervise sidecar. */
function superviseMcpConfig() {
    return JSON.stringify({ mcpServers: { supervise: { type: "http", url: `http://${SUPERVISE_HOST_ALIAS}:${SUPERVISE_PORT}/mcp` } } });
}
/** What the agent is told it runs on, for `current-dockerfile`. */
function currentDockerfile(image) {
    if (image.kind === "prebuilt") {
        return { source: "prebuilt", text: `# This bottle runs the prebuilt image ${image.ref}; a proposal can start FROM it.\nFROM ${image.ref}\n` };
    }
    return { source: image.source, text: image.dockerfile };
}
/**
 * The plan for continuing the same session right after a rebuild: the same bottle
 * and identity, resumed in the image just built from the agent's proposal.
 */
function rebuiltPlan(plan, proposal, sessionId) {
    const previous = plan.image.kind === "build" ? plan.image.dockerfile : currentDockerfile(plan.image).text;
    const image = {
        kind: "build",
        tag: proposal.imageTag,
        source: "per-bottle",
        replaces: previous,
        dockerfile: proposal.dockerfile,
        dockerfilePath: "state/<identity>/Dockerfile",
        contextDir: plan.image.kind === "build" ? plan.image.contextDir : null,
        buildArgs: plan.image.kind === "build" ? plan.image.buildArgs : {},
        // Built by the launch that follows; until it has built, the state keeps it as Dockerfile.proposed.
        reuse: false,
    };
    const claude = { ...plan.claude, prompt: REBUILT_RESUME_PROMPT, resumeSession: sessionId };
    const supervise = plan.supervise && {
        ...plan.supervise,
        policy: plan.supervise.rebuildsLeft > 1 ? plan.supervise.policy : "preserve",
        rebuildsLeft: Math.max(0, plan.supervise.rebuildsLeft - 1),
        config: {
            ...plan.supervise.config,
            policy: plan.supervise.rebuildsLeft > 1 ? plan.supervise.config.policy : "preserve",
            currentDockerfile: currentDockerfile(image),
        },
    };
    return {
        ...plan,
        mode: "resume",
        prompt: claude.prompt,
        resumeSession: sessionId,
        image,
        claude,
        supervise,
        agentContainer: { ...plan.agentContainer, command: claudeCommand(claude) },
    };
}
/** The bundled Dockerfile's base: the manifest's build arg, else CLAUDE_BOTTLE_BASE_IMAGE, else the default. */
function withBaseImage(args, env) {
    if (args.BASE_IMAGE)
        return args;
    return { ...args, BASE_IMAGE: env.CLAUDE_BOTTLE_BASE_IMAGE || DEFAULT_BASE_IMAGE };
}
/** What claude-code itself must reach when no anthropic route carries its traffic. */
const CLAUDE_CODE_HOSTS = ["api.anthropic.com"];
/** `host`, `*.host` or either with `:port` (default 443), as the manifest writes them. */
function allowEntry(entry) {
    const match = /^(.*):(\d+)$/.exec(entry);
    return match ? { host: match[1], port: Number(match[2]) } : { host: entry, port: 443 };
}
function readDockerfile(path, field, given) {
    try {
        return (0,external_node_fs_.readFileSync)(path, "utf8");
    }
    catch (error) {
        const code = error.code;
        throw new InputError(field, given, `cannot be read (${code ?? "error"} at ${path})`, "give a path to a Dockerfile relative to the manifest, or remove the field to use the bundled one");
    }
}
function hash(text) {
    return (0,external_node_crypto_.createHash)("sha256").update(text).digest("hex").slice(0, 12);
}

;// CONCATENATED MODULE: ./src/bottle/lifecycle.ts
/**
 * The launch core shared by `start`, `resume`, the CLI and the action: bring a
 * bottle up from a plan, run claude headlessly in it, snapshot during and after
 * the session, decide the outcome and settle the state (clean up or preserve).
 *
 * A supervised bottle also runs the supervise sidecar; when the agent's
 * capability-block proposal is accepted the session is ended, the proposal kept in
 * the state, and with the `rebuild` policy the bottle is rebuilt from it and the same
 * session resumed in the same run.
 *
 * It takes its Docker client, state store, clock, environment, log and interrupt
 * signal as arguments. Teardown always runs and is idempotent; a failed cleanup
 * is a log line, and the original error is what the caller sees.
 */


















/** The points of a launch where time is measured and a fault can be injected, in order. */
const PHASES = ["image-build", "networks", "gate-start", "agent-start", "copy-in", "session", "snapshot", "teardown"];
/** A launch that failed before claude ran: no outcome, a clear reason, nothing left behind. */
class LaunchError extends Error {
    constructor(message) {
        super(message);
        this.name = "LaunchError";
    }
}
class Interrupted extends Error {
}
/** The per-bottle Dockerfile did not build: its own outcome, with the state kept. */
class BuildFailed extends Error {
}
const GATE_READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
/** After a proposal, claude gets this long to take in the tool's answer and write its transcript before it is stopped. */
const CAPABILITY_SETTLE_MS = 3_000;
/** A proposal file is at most a Dockerfile's limit plus its reason: anything far larger is refused. */
const PROPOSAL_READ_LIMIT = 1024 * 1024;
const BUILD_LOG_LIMIT = 1024 * 1024;
const SUPERVISE_CONFIG_PATH = "/opt/claude-bottle-supervise/config.json";
/**
 * Runs the bottle; with the `rebuild` policy, each accepted proposal (up to the
 * plan's rebuilds) is followed at once by a launch of the same identity and session
 * in the image built from it.
 */
async function runBottle(plan, deps) {
    const history = [];
    let current = plan;
    for (;;) {
        const result = await launchOnce(current, deps, history);
        const last = history.at(-1);
        if (result.outcome !== "capability-block" || last?.policy !== "rebuild" || !result.sessionId || current.supervise === null) {
            return result;
        }
        const done = plan.supervise ? plan.supervise.rebuildsLeft - current.supervise.rebuildsLeft + 1 : 1;
        deps.log.info(`rebuild ${done} of ${plan.supervise?.rebuildsLeft ?? 1}: building ${current.identity} from the proposed Dockerfile and resuming session ${result.sessionId}`);
        current = rebuiltPlan(current, { dockerfile: last.proposed, imageTag: `claude-bottle-bottle:${current.identity}` }, result.sessionId);
    }
}
async function launchOnce(plan, deps, history) {
    const { docker, state, log } = deps;
    await refuseOrphans(plan, docker);
    const previous = plan.mode === "resume" ? await state.readMetadata(plan.identity) : null;
    // A resumed bottle continues on the work tree it left, not on the original directory.
    const savedWorkspace = state.snapshotPath(plan.identity, "workspace");
    const workspaceSource = plan.mode === "resume" && (0,external_node_fs_.existsSync)(savedWorkspace) ? savedWorkspace : plan.workspace;
    let metadata = {
        version: 1,
        identity: plan.identity,
        agent: plan.agent,
        manifestPath: plan.manifestPath,
        workspace: plan.workspace,
        sessionId: plan.resumeSession ?? previous?.sessionId ?? null,
        outcome: "running",
        exitCode: null,
        startedAt: deps.clock.now().toISOString(),
        endedAt: null,
        launches: (previous?.launches ?? 0) + 1,
        numTurns: null,
        costUsd: null,
        image: null,
    };
    /**
     * The state is begun when the bottle's first Docker resource exists, not before:
     * a runner killed earlier leaves nothing at all (a fresh start) or the state as
     * the last run left it (a resume), and `cleanup`, which finds bottles by their
     * resources, never meets a state without them.
     */
    const beginState = async (image) => {
        await state.ensure(plan.identity);
        await state.recover(plan.identity);
        // A marker from an earlier run must not keep this run's state alive after a clean end.
        await state.clearPreserved(plan.identity);
        metadata = { ...metadata, image };
        await state.writeMetadata(metadata);
        return new EgressLog(state.egressPath(plan.identity));
    };
    const timer = new PhaseTimer();
    const pause = async (phase) => {
        await deps.pauseAt?.(phase);
    };
    const resources = new BottleResources(docker, plan, log);
    let egress = null;
    let stopGateLog = null;
    let stopSuperviseLog = null;
    let session = null;
    let launchFailure = null;
    const proposals = new ProposalWatch(docker, log);
    try {
        await pause("image-build");
        const imageRef = await timer.time("image", () => ensureAgentImage(plan, deps));
        const pending = history.at(-1);
        if (plan.image.kind === "build" && plan.image.source === "per-bottle" && pending?.policy === "rebuild" && pending.result === undefined)
            pending.result = "rebuilt";
        checkInterrupt(deps.signal);
        await ensureImage(docker, plan.gate.image, log);
        checkInterrupt(deps.signal);
        await pause("networks");
        await timer.time("networks", () => resources.createNetworks());
        const egressLog = await beginState(imageRef);
        egress = egressLog;
        checkInterrupt(deps.signal);
        await pause("gate-start");
        const gateId = await timer.time("gate", () => startGate(plan, deps, resources));
        stopGateLog = (await docker.followLogs(gateId, (line) => egressLog.accept(line))).stop;
        checkInterrupt(deps.signal);
        if (plan.supervise) {
            const superviseId = await timer.time("supervise", () => startSupervise(plan, deps, resources));
            proposals.watch(superviseId);
            stopSuperviseLog = (await docker.followLogs(superviseId, (line) => proposals.accept(line))).stop;
            checkInterrupt(deps.signal);
        }
        await pause("agent-start");
        const agentId = await startAgent(plan, deps, resources, imageRef, workspaceSource, timer, pause);
        checkInterrupt(deps.signal);
        await pause("session");
        timer.mark("execStart");
        session = await timer.time("session", () => runSession(plan, deps, agentId, proposals.accepted, pause));
        await timer.time("finalSnapshot", () => finalSnapshot(plan, deps, agentId));
        // The answer can reach claude before the runner hears of it: look for a proposal the log did not bring yet.
        if (plan.supervise)
            await proposals.finish();
    }
    catch (error) {
        launchFailure = error;
    }
    finally {
        await stopSuperviseLog?.().catch((e) => log.warn(`reading the supervise log failed: ${errors_errorMessage(e)}`));
        await stopGateLog?.().catch((e) => log.warn(`reading the gate's log failed: ${errors_errorMessage(e)}`));
        await egress?.close();
        await pause("teardown");
        await timer.time("teardown", () => resources.teardown());
    }
    const egressSummary = egress?.summary ?? { reached: {}, refused: {} };
    if (egress)
        log.info(describeEgress(egressSummary));
    if (session === null) {
        return settleLaunchFailure(plan, deps, launchFailure, metadata, egressSummary, history, timer.timings);
    }
    if (launchFailure)
        log.warn(`final snapshot failed: ${errors_errorMessage(launchFailure)}; the last periodic snapshot is kept`);
    const proposal = proposals.proposal;
    if (proposal && plan.supervise) {
        const record = await keepProposal(plan, deps, proposal);
        history.push(record);
    }
    const outcome = decideOutcome({ ...session.end, capabilityBlock: proposal !== null });
    const keep = preserves(outcome);
    try {
        metadata = await state.updateMetadata(plan.identity, {
            sessionId: session.sessionId ?? metadata.sessionId,
            outcome,
            exitCode: session.end.exitCode,
            endedAt: deps.clock.now().toISOString(),
            numTurns: session.end.result?.num_turns ?? session.turns,
            costUsd: session.end.result?.total_cost_usd ?? null,
        });
        if (keep)
            await state.markPreserved(plan.identity);
    }
    catch (error) {
        // A full disk, most often: the state keeps its last snapshot and stays resumable once there is room.
        throw new Error(`could not record the outcome ${outcome} in ${state.dir(plan.identity)}: ${errors_errorMessage(error)}; ` +
            `the state there keeps its last snapshot: free some space, then resume ${plan.identity}`);
    }
    if (keep) {
        log.info(`outcome ${outcome}: state preserved in ${state.dir(plan.identity)}`);
        if (history.at(-1)?.policy !== "rebuild" || outcome !== "capability-block")
            log.info(`to resume this bottle: node runner resume ${plan.identity}`);
    }
    else {
        await copyWorkspaceBack(plan, deps);
        await deps.beforeCleanup?.(state.dir(plan.identity)).catch((e) => log.warn(`before cleaning up: ${errors_errorMessage(e)}`));
        await state.remove(plan.identity);
        log.info(`outcome ${outcome}: work tree copied to ${plan.workspace}; state removed`);
    }
    return {
        identity: plan.identity,
        outcome,
        exitCode: session.end.exitCode,
        sessionId: metadata.sessionId,
        stateDir: state.dir(plan.identity),
        preserved: keep,
        numTurns: metadata.numTurns,
        costUsd: metadata.costUsd,
        egress: egressSummary,
        capabilityBlocks: history,
        buildLog: null,
        timings: timer.timings,
    };
}
/** Wall-clock milliseconds per phase, for `timings` in the result. */
class PhaseTimer {
    timings = {};
    started = performance.now();
    async time(name, run) {
        const start = performance.now();
        try {
            return await run();
        }
        finally {
            this.timings[name] = Math.round((performance.now() - start) * 10) / 10;
        }
    }
    /** Milliseconds from the start of the launch to now. */
    mark(name) {
        this.timings[name] = Math.round((performance.now() - this.started) * 10) / 10;
    }
}
/**
 * Keeps an accepted proposal in the state. With `preserve` it becomes the bottle's
 * Dockerfile, which the next launch builds; with `rebuild` it waits in
 * Dockerfile.proposed until the rebuild that follows has built it, so a proposal
 * that does not build leaves the bottle's Dockerfile as it was.
 */
async function keepProposal(plan, deps, proposal) {
    const { state } = deps;
    const policy = plan.supervise?.policy === "rebuild" ? "rebuild" : "preserve";
    const record = {
        version: 1,
        reason: proposal.reason,
        at: proposal.at,
        policy,
        before: currentDockerfile(plan.image),
        proposed: proposal.dockerfile,
        sha256: (0,external_node_crypto_.createHash)("sha256").update(proposal.dockerfile).digest("hex"),
    };
    await store_writeAtomic(state.capabilityBlockPath(plan.identity), `${JSON.stringify(record, null, 2)}\n`);
    if (policy === "rebuild")
        await store_writeAtomic(state.proposedDockerfilePath(plan.identity), proposal.dockerfile);
    else
        await state.writeDockerfile(plan.identity, proposal.dockerfile);
    deps.log.info(`capability-block (${policy}): ${proposal.reason}`);
    return record;
}
/** A launch that never got claude running: resume state stays preserved, a fresh start leaves nothing. */
async function settleLaunchFailure(plan, deps, failure, metadata, egress, history, timings) {
    const { state } = deps;
    if (failure instanceof BuildFailed)
        return settleBuildFailure(plan, deps, failure, metadata, egress, history, timings);
    const interrupted = failure instanceof Interrupted;
    const hadSession = plan.mode === "resume";
    if (hadSession) {
        await state.updateMetadata(plan.identity, { outcome: interrupted ? "interrupted" : "error", endedAt: deps.clock.now().toISOString() });
        await state.markPreserved(plan.identity);
    }
    else {
        await state.remove(plan.identity);
    }
    if (!interrupted)
        throw failure instanceof Error ? failure : new LaunchError(String(failure));
    deps.log.info(hadSession ? `interrupted before claude started; state kept: node runner resume ${plan.identity}` : "interrupted before claude started; nothing to keep");
    return {
        identity: plan.identity,
        outcome: "interrupted",
        exitCode: null,
        sessionId: metadata.sessionId,
        stateDir: state.dir(plan.identity),
        preserved: hadSession,
        numTurns: null,
        costUsd: null,
        egress,
        capabilityBlocks: history,
        buildLog: null,
        timings,
    };
}
/**
 * The per-bottle Dockerfile did not build: outcome `build-failed`, the build log in
 * the state, everything else as it was (the bottle's Dockerfile, its transcript and
 * workspace), and the state preserved so nothing of the session is lost.
 */
async function settleBuildFailure(plan, deps, failure, metadata, egress, history, timings) {
    const { state, log } = deps;
    const last = history.at(-1);
    if (last?.policy === "rebuild" && last.result === undefined) {
        last.result = "build-failed";
        await store_writeAtomic(state.capabilityBlockPath(plan.identity), `${JSON.stringify(last, null, 2)}\n`);
    }
    await state.updateMetadata(plan.identity, { outcome: "build-failed", exitCode: null, endedAt: deps.clock.now().toISOString() });
    await state.markPreserved(plan.identity);
    log.warn(failure.message);
    log.info(`outcome build-failed: state preserved in ${state.dir(plan.identity)}, build log in ${state.buildLogPath(plan.identity)}`);
    const pending = (0,external_node_fs_.existsSync)(state.proposedDockerfilePath(plan.identity));
    log.info(pending
        ? `the bottle's Dockerfile is unchanged; \`node runner resume ${plan.identity}\` goes on in the previous image and shows the agent the build log`
        : `fix ${state.dockerfilePath(plan.identity)} (or remove it to use the manifest's image) and run \`node runner resume ${plan.identity}\``);
    return {
        identity: plan.identity,
        outcome: "build-failed",
        exitCode: null,
        sessionId: metadata.sessionId,
        stateDir: state.dir(plan.identity),
        preserved: true,
        numTurns: null,
        costUsd: null,
        egress,
        capabilityBlocks: history,
        buildLog: state.buildLogPath(plan.identity),
        timings,
    };
}
function checkInterrupt(signal) {
    if (signal.aborted)
        throw new Interrupted("interrupted");
}
/** Leftovers with this identity mean another runner owns it, or an earlier one died: never share them. */
async function refuseOrphans(plan, docker) {
    const label = `${client/* IDENTITY_LABEL */.ss}=${plan.identity}`;
    const [containers, networks] = await Promise.all([docker.listContainers([label]), docker.listNetworks([label])]);
    const names = [...containers.map((c) => c.name), ...networks.map((n) => n.name)];
    if (names.length > 0) {
        throw new LaunchError(`bottle ${plan.identity} already has Docker resources (${names.join(", ")}): another runner owns it or an earlier one died; run \`node runner cleanup\` and retry`);
    }
}
async function ensureAgentImage(plan, deps) {
    const image = plan.image;
    if (image.kind === "prebuilt") {
        await ensureImage(deps.docker, image.ref, deps.log);
        return image.ref;
    }
    if (image.reuse && (await deps.docker.imageExists(image.tag)))
        return image.tag;
    deps.log.info(`building agent image ${image.tag} from the ${image.source} Dockerfile`);
    const tail = [];
    const full = [];
    let fullBytes = 0;
    try {
        await deps.docker.buildImage({
            context: await buildContext(image.contextDir, image.dockerfile),
            dockerfile: ".claude-bottle.Dockerfile",
            tag: image.tag,
            buildArgs: image.buildArgs,
            labels: { ...plan.labels, "claude-bottle.role": "image" },
        }, (line) => {
            tail.push(line);
            if (tail.length > 20)
                tail.shift();
            if (fullBytes < BUILD_LOG_LIMIT) {
                full.push(line);
                fullBytes += line.length + 1;
            }
        });
    }
    catch (error) {
        if (image.source === "per-bottle") {
            // Its own outcome: the state (and the Dockerfile in it) is what the person fixes.
            await store_writeAtomic(deps.state.buildLogPath(plan.identity), `${full.join("\n")}\n${errors_errorMessage(error)}\n`);
            throw new BuildFailed(`building the per-bottle Dockerfile failed: ${errors_errorMessage(error)}\n${tail.join("\n")}`);
        }
        throw new LaunchError(`building the agent image from the ${image.source} Dockerfile failed: ${errors_errorMessage(error)}\n${tail.join("\n")}`);
    }
    if (image.source === "per-bottle")
        await promoteProposal(plan, deps);
    return image.tag;
}
/** A proposal waiting in Dockerfile.proposed becomes the bottle's Dockerfile once it has built (and only that one). */
async function promoteProposal(plan, deps) {
    const { state } = deps;
    const pending = state.proposedDockerfilePath(plan.identity);
    const text = await (0,promises_.readFile)(pending, "utf8").catch(() => null);
    if (text === null || plan.image.kind !== "build" || text !== plan.image.dockerfile)
        return;
    await (0,promises_.rename)(pending, state.dockerfilePath(plan.identity));
    await (0,promises_.rm)(state.buildLogPath(plan.identity), { force: true });
    const recordPath = state.capabilityBlockPath(plan.identity);
    const record = await readJson(recordPath);
    if (record && typeof record === "object")
        await store_writeAtomic(recordPath, `${JSON.stringify({ ...record, result: "rebuilt" }, null, 2)}\n`);
}
async function readJson(path) {
    try {
        return JSON.parse(await (0,promises_.readFile)(path, "utf8"));
    }
    catch {
        return null;
    }
}
async function ensureImage(docker, ref, log) {
    if (await docker.imageExists(ref))
        return;
    log.info(`pulling ${ref}`);
    try {
        await docker.pullImage(ref);
    }
    catch (error) {
        throw new LaunchError(`image ${ref} is not on this engine and pulling it failed (${errors_errorMessage(error)}); build or load it first`);
    }
}
/** Tracks what this launch created so teardown removes exactly that, whatever happened. */
class BottleResources {
    docker;
    plan;
    log;
    containers = [];
    networks = [];
    constructor(docker, plan, log) {
        this.docker = docker;
        this.plan = plan;
        this.log = log;
    }
    async createNetworks() {
        const wanted = [["internal", this.plan.networks.internal, true]];
        if (!this.plan.networks.egressExternal)
            wanted.push(["egress", this.plan.networks.egress, false]);
        // Both at once: they do not depend on each other, and each is a round trip to the engine.
        this.networks.push(...wanted.map(([, name]) => name));
        const created = await Promise.allSettled(wanted.map(([role, name, internal]) => this.docker.createNetwork({
            name,
            internal,
            labels: { ...this.plan.labels, "claude-bottle.role": role },
            // Even an --internal bridge gives the host an address on it, which the agent could
            // reach directly; with no address on the bridge the host is out of its reach.
            ...(internal ? { options: { "com.docker.network.bridge.inhibit_ipv4": "true" } } : {}),
        })));
        // Both settled before the first failure is thrown, so teardown never races a creation.
        const failed = created.find((r) => r.status === "rejected");
        if (failed)
            throw failed.reason;
    }
    /** The bottle's own subnets, which the gate must never connect to (the host and the gate live there). */
    async ownSubnets() {
        const subnets = await Promise.all(this.networks.map((n) => this.docker.networkSubnets(n)));
        return subnets.flat();
    }
    async createContainer(request) {
        this.containers.push(request.name);
        return this.docker.createContainer(request);
    }
    async teardown() {
        const label = `${client/* IDENTITY_LABEL */.ss}=${this.plan.identity}`;
        const removeAll = async (known, list, remove, kind) => {
            let names = known;
            try {
                names = [...new Set([...known, ...(await list()).map((r) => r.name)])];
            }
            catch (error) {
                this.log.warn(`listing ${kind}s for teardown failed: ${errors_errorMessage(error)}`);
            }
            await Promise.all(names.map((name) => remove(name).catch((error) => this.log.warn(`removing ${kind} ${name} failed: ${errors_errorMessage(error)}`))));
        };
        await removeAll(this.containers, () => this.docker.listContainers([label]), (n) => this.docker.removeContainer(n), "container");
        await removeAll(this.networks, () => this.docker.listNetworks([label]), (n) => this.docker.removeNetwork(n), "network");
    }
}
async function startGate(plan, deps, resources) {
    const { docker } = deps;
    const gateEnv = {};
    for (const credential of plan.gate.credentials) {
        const value = deps.env[credential.fromEnv];
        if (!value) {
            throw new LaunchError(`route ${credential.route} injects ${credential.header} from ${credential.fromEnv}, which is not set in the runner's environment; export it and retry`);
        }
        const route = plan.gate.config.routes.find((r) => r.name === credential.route);
        if (route?.inject)
            gateEnv[route.inject.secretEnv] = value;
    }
    const id = await resources.createContainer({
        name: plan.gate.name,
        image: plan.gate.image,
        cmd: ["node", "/opt/claude-bottle-gate/gate.mjs", "/opt/claude-bottle-gate/config.json"],
        user: "65534:65534",
        env: gateEnv,
        labels: { ...plan.labels, "claude-bottle.role": "gate" },
        network: plan.networks.egress,
        capDrop: ["ALL"],
        securityOpt: ["no-new-privileges"],
        memoryBytes: 256 * 1024 * 1024,
        pidsLimit: 128,
        ...(plan.gate.dns.length ? { dns: plan.gate.dns } : {}),
    });
    await docker.connectNetwork(id, plan.networks.internal, [GATE_HOST_ALIAS]);
    const proxy = plan.gate.config.proxy ?? {};
    const config = { ...plan.gate.config, proxy: { ...proxy, deniedCidrs: [...(proxy.deniedCidrs ?? []), ...(await resources.ownSubnets())] } };
    await docker.putArchive(id, "/", await packFiles([
        { name: "opt/claude-bottle-gate/gate.mjs", content: await deps.gateProgram(), mode: 0o444 },
        { name: "opt/claude-bottle-gate/config.json", content: JSON.stringify(config), mode: 0o444 },
    ], ROOT_OWNER));
    await startAndWaitReady(docker, id, "the gate", plan.gate.image, "CLAUDE_BOTTLE_GATE_IMAGE");
    return id;
}
/**
 * Starts a sidecar and waits for its `ready` line. Fail closed: anything else (an
 * exit, a `fatal` line, silence) is a LaunchError, and no agent is ever started.
 */
async function startAndWaitReady(docker, id, what, image, imageSetting) {
    try {
        await docker.startContainer(id);
    }
    catch (error) {
        const hint = /executable file not found|no such file/i.test(errors_errorMessage(error)) ? `; check that the image ${image} (${imageSetting}) has Node >= 20` : "";
        throw new LaunchError(`${what} did not come up (${errors_errorMessage(error)}); the agent was not started${hint}`);
    }
    let reason = "";
    const how = await docker.waitForLogLine(id, (line) => {
        try {
            const event = JSON.parse(line);
            if (event.event === "fatal")
                reason = event.reason ?? "";
            return event.event === "ready";
        }
        catch {
            return false;
        }
    }, GATE_READY_TIMEOUT_MS);
    if (how !== "matched") {
        const tail = await docker.logsTail(id, 20).catch(() => "");
        throw new LaunchError(`${what} did not come up (${how === "timeout" ? `no ready line within ${GATE_READY_TIMEOUT_MS / 1000}s` : "it exited"})${reason ? `: ${reason}` : ""}; the agent was not started\n${tail.trim()}`);
    }
}
/**
 * The supervise sidecar: on the internal network only (the agent reaches it as
 * `supervise`, nothing outside the bottle can), no credentials, no capabilities.
 * It never touches Docker: it tells the runner of a proposal on its stdout.
 */
async function startSupervise(plan, deps, resources) {
    const supervise = plan.supervise;
    if (!supervise)
        throw new Error("startSupervise without a supervise plan");
    const { docker } = deps;
    await ensureImage(docker, supervise.image, deps.log);
    const id = await resources.createContainer({
        name: supervise.name,
        image: supervise.image,
        cmd: ["node", "/opt/claude-bottle-supervise/supervise.mjs", SUPERVISE_CONFIG_PATH],
        user: "65534:65534",
        env: {},
        labels: { ...plan.labels, "claude-bottle.role": "supervise" },
        network: plan.networks.internal,
        networkAliases: [SUPERVISE_HOST_ALIAS],
        capDrop: ["ALL"],
        securityOpt: ["no-new-privileges"],
        memoryBytes: 128 * 1024 * 1024,
        pidsLimit: 64,
    });
    const program = deps.superviseProgram ?? programLoader("supervise", deps.env);
    await docker.putArchive(id, "/", await packFiles([
        { name: "opt/claude-bottle-supervise/supervise.mjs", content: await program(), mode: 0o444 },
        { name: SUPERVISE_CONFIG_PATH.slice(1), content: JSON.stringify(supervise.config), mode: 0o444 },
    ], ROOT_OWNER));
    await startAndWaitReady(docker, id, "the supervise server", supervise.image, "CLAUDE_BOTTLE_GATE_IMAGE");
    return id;
}
/**
 * Hears of proposals on the supervise sidecar's stdout and reads each from the file
 * the sidecar wrote, through the archive API. What it reads is the agent's text, so
 * it is parsed and checked again here; `accepted` is aborted once one passes.
 */
class ProposalWatch {
    docker;
    log;
    proposal = null;
    controller = new AbortController();
    container = null;
    reading = Promise.resolve();
    constructor(docker, log) {
        this.docker = docker;
        this.log = log;
    }
    get accepted() {
        return this.controller.signal;
    }
    watch(container) {
        this.container = container;
    }
    accept(line) {
        let event;
        try {
            event = JSON.parse(line);
        }
        catch {
            return;
        }
        if (event.event === "proposal")
            this.reading = this.reading.then(() => this.collect());
        else if (event.event === "capability-block") {
            const decision = event.decision;
            if (decision === "denied" || decision === "refused")
                this.log.info(`capability-block ${String(decision)} by the supervise server`);
        }
    }
    /** At the end of the session, with the sidecar still up: a last look for a proposal. */
    async finish() {
        await this.reading;
        await this.collect();
    }
    /** Reads the sidecar's proposals directory; the first valid proposal wins. */
    async collect() {
        if (this.proposal || !this.container)
            return;
        try {
            const tar = await this.docker.getArchive(this.container, PROPOSALS_DIR);
            if (!tar)
                return;
            const files = [...(await archive_readTarFiles(tar, PROPOSAL_READ_LIMIT)).entries()].filter(([name]) => name.endsWith(".json")).sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
            for (const [name, content] of files) {
                const parsed = ProposalSchema.safeParse(JSON.parse(content.toString("utf8")));
                const problem = parsed.success ? dockerfileProblem(parsed.data.dockerfile) : "it is not a proposal";
                if (!parsed.success || problem) {
                    this.log.warn(`ignored the proposal ${name} from the supervise server: ${problem}`);
                    continue;
                }
                this.proposal = parsed.data;
                this.controller.abort();
                return;
            }
        }
        catch (error) {
            this.log.warn(`reading the capability-block proposal failed: ${errors_errorMessage(error)}`);
        }
    }
}
async function startAgent(plan, deps, resources, imageRef, workspaceSource, timer, pause) {
    const { docker, state } = deps;
    const c = plan.agentContainer;
    const agentStart = performance.now();
    const id = await resources.createContainer({
        name: c.name,
        image: imageRef,
        // claude runs through exec, never as PID 1: a PID 1 ignores SIGKILL from inside its namespace.
        cmd: ["sleep", "infinity"],
        user: c.user,
        workingDir: AGENT_WORKSPACE,
        env: c.env,
        labels: { ...plan.labels, "claude-bottle.role": "agent" },
        network: plan.networks.internal,
        capDrop: ["ALL"],
        securityOpt: ["no-new-privileges"],
        memoryBytes: c.memoryBytes,
        nanoCpus: c.nanoCpus,
        pidsLimit: c.pidsLimit,
        ...(c.runtime ? { runtime: c.runtime } : {}),
    });
    const created = performance.now();
    await pause("copy-in");
    await timer.time("copyIn", async () => {
        await docker.putArchive(id, "/", await packFiles([{ name: SYSTEM_PROMPT_PATH.slice(1), content: plan.systemPrompt, mode: 0o444 }], ROOT_OWNER));
        if ((0,external_node_fs_.existsSync)(workspaceSource)) {
            await docker.putArchive(id, AGENT_HOME, packDirectory(workspaceSource, AGENT_OWNER, "workspace"));
        }
        const transcript = state.snapshotPath(plan.identity, "transcript");
        if (plan.mode === "resume" && (0,external_node_fs_.existsSync)(transcript)) {
            await docker.putArchive(id, AGENT_HOME, packDirectory(transcript, AGENT_OWNER, ""));
        }
    });
    const started = performance.now();
    await docker.startContainer(id);
    timer.timings.agent = Math.round((created - agentStart + (performance.now() - started)) * 10) / 10;
    return id;
}
async function runSession(plan, deps, agentId, proposal, pause) {
    const { docker, state, log } = deps;
    const stream = new ClaudeStream();
    const events = (0,external_node_fs_.createWriteStream)(state.eventsPath(plan.identity), { flags: "a" });
    const snapshots = new Snapshotter(() => snapshotTranscript(docker, state, agentId, plan.identity, () => pause("snapshot")), log);
    let timedOut = false;
    let interrupted = false;
    let finished = false;
    let recordedSession = null;
    const stop = async (why) => {
        if (finished)
            return;
        log.info(`${why}: stopping claude`);
        await docker.exec(agentId, { cmd: claude_signalCommand("TERM"), user: claude_AGENT_USER }).catch(() => 0);
        await new Promise((r) => setTimeout(r, STOP_GRACE_MS).unref());
        if (!finished)
            await docker.exec(agentId, { cmd: claude_signalCommand("KILL"), user: claude_AGENT_USER }).catch(() => 0);
    };
    const timer = setTimeout(() => {
        timedOut = true;
        void stop(`timeout after ${Math.round(plan.timeoutMs / 1000)}s`);
    }, plan.timeoutMs);
    const onAbort = () => {
        interrupted = true;
        void stop("interrupted");
    };
    deps.signal.addEventListener("abort", onAbort, { once: true });
    let settle = null;
    const onProposal = () => {
        log.info("capability-block accepted: the session ends once claude has the answer");
        // Give claude a moment to take in the tool's answer and write it to its transcript.
        settle = setTimeout(() => void stop("capability-block"), CAPABILITY_SETTLE_MS);
    };
    proposal.addEventListener("abort", onProposal, { once: true });
    const interval = setInterval(() => snapshots.request(), plan.snapshotIntervalMs);
    const stdout = (0,dockerode.lineSplitter)((line) => {
        events.write(`${line}\n`);
        const effects = stream.accept(line);
        if (effects.progress)
            for (const l of effects.progress.split("\n"))
                log.progress(l);
        if (stream.sessionId && stream.sessionId !== recordedSession) {
            recordedSession = stream.sessionId;
            // Recorded at once: a crash before the first snapshot must still be resumable by id.
            void state.updateMetadata(plan.identity, { sessionId: stream.sessionId }).catch((e) => log.warn(`recording the session id failed: ${errors_errorMessage(e)}`));
        }
        if (effects.turnEnded)
            snapshots.request();
    });
    const stderr = (0,dockerode.lineSplitter)((line) => {
        if (line.trim())
            log.progress(`claude (stderr): ${line}`);
    });
    let exitCode;
    try {
        if (deps.signal.aborted)
            onAbort();
        exitCode = await docker.exec(agentId, { cmd: plan.agentContainer.command, user: claude_AGENT_USER, workingDir: AGENT_WORKSPACE }, { stdout: (c) => stdout.push(c), stderr: (c) => stderr.push(c) });
    }
    finally {
        finished = true;
        clearTimeout(timer);
        if (settle)
            clearTimeout(settle);
        clearInterval(interval);
        deps.signal.removeEventListener("abort", onAbort);
        proposal.removeEventListener("abort", onProposal);
        stdout.flush();
        stderr.flush();
        await new Promise((r) => events.end(r));
        await snapshots.idle();
    }
    log.info(`claude exited with code ${exitCode}`);
    return {
        end: { exitCode, result: stream.result, timedOut, interrupted },
        sessionId: stream.sessionId,
        turns: stream.turns,
    };
}
/** Runs snapshots one at a time; requests made while one runs coalesce into one more. */
class Snapshotter {
    take;
    log;
    running = null;
    pending = false;
    constructor(take, log) {
        this.take = take;
        this.log = log;
    }
    request() {
        if (this.running) {
            this.pending = true;
            return;
        }
        this.running = this.loop();
    }
    async idle() {
        while (this.running)
            await this.running;
    }
    async loop() {
        try {
            do {
                this.pending = false;
                await this.take().catch((e) => this.log.warn(`snapshot failed (the previous one is kept): ${errors_errorMessage(e)}`));
            } while (this.pending);
        }
        finally {
            this.running = null;
        }
    }
}
/**
 * `beforeSwap` runs with the new snapshot written and the old one still in place (a
 * fault point). The two archives are read one after the other: the engine does not
 * serve a second archive of a container while the first one's stream is unread.
 */
async function snapshotTranscript(docker, state, container, identity, beforeSwap) {
    const claudeDir = await docker.getArchive(container, `${AGENT_HOME}/.claude`);
    if (!claudeDir)
        return; // claude has not written anything yet; keep what we have
    await destroyedOnFailure(claudeDir, () => state.replaceSnapshot(identity, "transcript", async (dir) => {
        await extractInto(claudeDir, dir);
        const settings = await docker.getArchive(container, `${AGENT_HOME}/.claude.json`);
        if (settings)
            await destroyedOnFailure(settings, () => extractInto(settings, dir));
        await beforeSwap?.();
    }));
}
async function snapshotWorkspace(docker, state, container, identity) {
    const tar = await docker.getArchive(container, AGENT_WORKSPACE);
    if (!tar)
        return;
    await destroyedOnFailure(tar, () => state.replaceSnapshot(identity, "workspace", (dir) => extractInto(tar, dir, 1)));
}
/** Runs `use`; if it fails, the archive stream is destroyed so its connection does not hold the process open. */
async function destroyedOnFailure(stream, use) {
    try {
        return await use();
    }
    catch (error) {
        stream.destroy();
        throw error;
    }
}
/** Both snapshots are tried, whatever the first one does: a transcript that cannot be written must not cost the work tree. */
async function finalSnapshot(plan, deps, agentId) {
    const failures = [];
    await snapshotTranscript(deps.docker, deps.state, agentId, plan.identity).catch((e) => failures.push(`transcript: ${errors_errorMessage(e)}`));
    await snapshotWorkspace(deps.docker, deps.state, agentId, plan.identity).catch((e) => failures.push(`workspace: ${errors_errorMessage(e)}`));
    if (failures.length)
        throw new Error(failures.join("; "));
}
/** After a clean success the agent's work lands in the directory it came from (new and changed files). */
async function copyWorkspaceBack(plan, deps) {
    const snapshot = deps.state.snapshotPath(plan.identity, "workspace");
    if (!(0,external_node_fs_.existsSync)(snapshot))
        return;
    await (0,promises_.cp)(snapshot, plan.workspace, { recursive: true, force: true, verbatimSymlinks: true });
}
/** The session id of the newest transcript in a snapshot (`.claude/projects/<dir>/<session>.jsonl`), if any. */
function transcriptSession(transcript) {
    const projects = join(transcript, ".claude", "projects");
    if (!existsSync(projects))
        return null;
    const found = readdirSync(projects, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && /^[0-9a-f-]{36}\.jsonl$/.test(e.name))
        .map((e) => ({ id: e.name.slice(0, -".jsonl".length), at: statSync(join(e.parentPath, e.name)).mtimeMs }))
        .sort((a, b) => b.at - a.at);
    return found[0]?.id ?? null;
}
/** Reads an accepted proposal (and the sidecar's config, for what it replaces) out of a dead runner's supervise sidecar. */
async function rescueProposal(docker, state, container, identity, log) {
    const watch = new ProposalWatch(docker, log);
    watch.watch(container);
    await watch.finish();
    const proposal = watch.proposal;
    if (!proposal)
        return false;
    let before = { source: "per-bottle", text: (await state.readDockerfile(identity)) ?? "" };
    try {
        const tar = await docker.getArchive(container, SUPERVISE_CONFIG_PATH);
        const file = tar ? [...(await readTarFiles(tar, PROPOSAL_READ_LIMIT)).values()][0] : undefined;
        if (file)
            before = SuperviseConfigSchema.parse(JSON.parse(file.toString("utf8"))).currentDockerfile;
    }
    catch (error) {
        log.warn(`reading the supervise config failed (${errorMessage(error)}); the proposal is kept without what it replaced`);
    }
    const record = {
        version: 1,
        reason: proposal.reason,
        at: proposal.at,
        policy: "preserve",
        before,
        proposed: proposal.dockerfile,
        sha256: createHash("sha256").update(proposal.dockerfile).digest("hex"),
    };
    await writeAtomic(state.capabilityBlockPath(identity), `${JSON.stringify(record, null, 2)}\n`);
    await state.writeDockerfile(identity, proposal.dockerfile);
    log.info(`kept the capability-block proposal the stopped runner had not settled: ${proposal.reason}`);
    return true;
}
/**
 * A runner died (SIGKILL, a cancelled job) and left a bottle behind: stop claude,
 * take the final snapshot from the agent container while it still exists, and mark
 * the state preserved as `interrupted`. A fresh bottle whose claude never started
 * has nothing to keep, and its state is removed. The caller removes the containers after.
 */
async function rescueBottle(identity, deps) {
    const { docker, state, log } = deps;
    const containers = await docker.listContainers([`${IDENTITY_LABEL}=${identity}`]);
    const agent = containers.find((c) => c.labels["claude-bottle.role"] === "agent");
    const supervise = containers.find((c) => c.labels["claude-bottle.role"] === "supervise");
    if (!state.exists(identity))
        return false;
    await state.recover(identity);
    if (agent?.running) {
        await docker.exec(agent.id, { cmd: signalCommand("TERM"), user: AGENT_USER }).catch(() => 0);
        await new Promise((r) => setTimeout(r, 1_000));
        await docker.exec(agent.id, { cmd: signalCommand("KILL"), user: AGENT_USER }).catch(() => 0);
    }
    if (agent) {
        await snapshotTranscript(docker, state, agent.id, identity).catch((e) => log.warn(`final transcript snapshot failed, the last one is kept: ${errorMessage(e)}`));
        await snapshotWorkspace(docker, state, agent.id, identity).catch((e) => log.warn(`workspace snapshot failed, the last one is kept: ${errorMessage(e)}`));
    }
    const recorded = await state.readMetadata(identity).catch(() => null);
    if (recorded && recorded.sessionId === null) {
        // The runner may have died between claude's first event and recording its session: the transcript knows it.
        const sessionId = transcriptSession(state.snapshotPath(identity, "transcript"));
        if (sessionId) {
            await state.updateMetadata(identity, { sessionId });
        }
        else {
            // claude never started in a fresh bottle: there is no session to keep, and the work tree is still where it came from.
            await state.remove(identity);
            log.info(`removed the state of ${identity}: its runner stopped before claude started, so there was nothing to keep`);
            return false;
        }
    }
    // A proposal the dead runner had not settled yet is kept, as `preserve` would: a person decides.
    const proposal = supervise ? await rescueProposal(docker, state, supervise.id, identity, log) : false;
    const metadata = await state.readMetadata(identity).catch(() => null);
    if (metadata?.outcome === "running") {
        await state.updateMetadata(identity, { outcome: proposal ? "capability-block" : "interrupted", endedAt: deps.clock.now().toISOString() });
    }
    await state.markPreserved(identity);
    log.info(`preserved ${identity} after its runner stopped: node runner resume ${identity}`);
    return true;
}

;// CONCATENATED MODULE: ./src/bottle/pause.ts
/**
 * `CLAUDE_BOTTLE_PAUSE_AT=<phase>`: hold the runner when it reaches a phase, so the
 * fault-injection tests can kill it exactly there and check what the next runner
 * (`cleanup`, the action's post step, `resume`) makes of what is left. It prints
 * one line to say where it holds, then waits until the process is killed.
 */


/** The launch phases, plus the two the entry points own: planning and saving to the cache. */
const PAUSE_POINTS = ["plan", ...PHASES, "cache-save"];
function pauseFromEnv(env, say) {
    const wanted = env.CLAUDE_BOTTLE_PAUSE_AT?.trim();
    if (!wanted)
        return undefined;
    if (!PAUSE_POINTS.includes(wanted)) {
        throw new InputError("CLAUDE_BOTTLE_PAUSE_AT", wanted, "is not a phase", `use one of: ${PAUSE_POINTS.join(", ")}`);
    }
    return async (point) => {
        if (point !== wanted)
            return;
        say(`paused at ${point} (CLAUDE_BOTTLE_PAUSE_AT)`);
        // A timer keeps the process alive; nothing resolves this.
        await new Promise(() => setInterval(() => { }, 60_000));
    };
}

;// CONCATENATED MODULE: ./src/manifest/default.ts
const DEFAULT_AGENT = "claude";
const DEFAULT_PROMPT = [
    "You are a coding agent running headlessly in a sandbox; nobody is watching the session or can answer questions.",
    "The project you work on is in /home/node/workspace.",
    "Do not ask for confirmation: when something is unclear, make the most reasonable choice, note it, and carry on.",
    "Network access is limited to a few allowed hosts; if something cannot be fetched, work without it and say so.",
    "When you finish, summarize what you changed, how you checked it, and anything left undone.",
].join(" ");
const DEFAULT_MANIFEST = {
    bottles: {
        default: {
            egress: {
                allow: [],
                routes: [
                    {
                        name: "anthropic",
                        upstream: "https://api.anthropic.com",
                        inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
                        role: "anthropic",
                    },
                ],
            },
        },
    },
    agents: {
        [DEFAULT_AGENT]: { bottle: "default", prompt: DEFAULT_PROMPT },
    },
};

;// CONCATENATED MODULE: ./src/manifest/duration.ts
/**
 * Durations as people write them in a manifest or a flag: `90s`, `30m`, `1h30m`,
 * `500ms`, `1d`. Units go largest first and each appears at most once, so a
 * value reads one way only; a bare number is refused because nobody can tell
 * whether `30` meant seconds or minutes.
 */
const UNITS = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
    ["ms", 1],
];
// `m(?!s)` keeps the minutes group from eating the `m` of a trailing `ms`.
const DURATION_PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;
const ACCEPTED = "use a number with a unit, like 90s, 30m or 1h30m (units d, h, m, s, ms, largest first)";
/** Milliseconds in `text`; throws an Error naming the value and the accepted forms. */
function parseDuration(text) {
    const match = DURATION_PATTERN.exec(text);
    if (text === "" || match === null) {
        throw new Error(`${JSON.stringify(text)} is not a duration; ${ACCEPTED}`);
    }
    let total = 0;
    UNITS.forEach(([, scale], index) => {
        const digits = match[index + 1];
        if (digits !== undefined)
            total += Number(digits) * scale;
    });
    if (!Number.isSafeInteger(total)) {
        throw new Error(`${JSON.stringify(text)} is too long to be a duration; ${ACCEPTED}`);
    }
    if (total === 0) {
        throw new Error(`${JSON.stringify(text)} is zero; a duration must be longer than that, like 90s, 30m or 1h30m`);
    }
    return total;
}
/** The shortest text `parseDuration` reads back as `ms` (rounded to whole milliseconds). */
function formatDuration(ms) {
    if (!Number.isFinite(ms))
        return String(ms);
    let rest = Math.round(Math.abs(ms));
    if (rest === 0)
        return "0s";
    let text = "";
    for (const [unit, scale] of UNITS) {
        const count = Math.floor(rest / scale);
        if (count > 0)
            text += `${count}${unit}`;
        rest -= count * scale;
    }
    return ms < 0 ? `-${text}` : text;
}

;// CONCATENATED MODULE: ./src/manifest/schema.ts
/**
 * The shape of `claude-bottle.json` and what every violation of it says.
 *
 * Bottles describe a sandbox (image, env, egress, limits); agents pick a bottle
 * and add a system prompt. Parsing also computes what the runner needs in
 * numbers (memory in bytes, timeout in milliseconds) so no other module reads
 * the raw strings. Messages name the bad value and the fix; `load.ts` adds the
 * file and the JSON path. The committed JSON Schema is generated from
 * `ManifestSchema`, so editors and this parser agree on the input shape.
 */




/** Bottle and agent names; an agent name becomes part of identities, container names and cache keys. */
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
const NAME_RULE = "1-40 lowercase letters, digits and hyphens, starting with a letter or digit";
const VARIABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)([bkmg]?)$/i;
const MEMORY_UNITS = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
// Docker refuses a memory limit below 6 MiB.
const MIN_MEMORY_BYTES = 6 * 1024 ** 2;
// Timers in Node overflow past 2^31-1 ms and fire at once; stay below that.
const MAX_TIMEOUT_MS = 24 * 86_400_000;
const schema_MAX_HOST_LENGTH = 253;
const HOST_LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
// A host whose last label is a number is an IPv4 address to URL parsers (`10.1`, `0x7f.1`, `2130706433`).
const schema_NUMERIC_LABEL_PATTERN = /^(?:\d+|0x[0-9a-f]*)$/i;
const ALLOW_EXAMPLES = "like api.github.com, *.githubusercontent.com or registry.npmjs.org:443";
// The gate decides which headers a route may inject; asking its schema here
// reports a bad header when the manifest loads instead of when the gate starts.
const GATE_INJECT_HEADER = GateConfigSchema.shape.routes.element.shape.inject.unwrap().shape.header;
/** A value as it appeared in the manifest, short enough for one line of an error. */
function showValue(value) {
    if (value === undefined)
        return "(missing)";
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
/** The candidate `word` was most likely a typo of, if any is close enough to suggest. */
function closest(word, candidates) {
    let best;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const candidate of candidates) {
        const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
        if (distance <= 2 && distance <= candidate.length / 2 && distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return best;
}
function editDistance(a, b) {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
function isRecord(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
/** Bytes in a Docker-style memory size: `512m`, `4g`, `1.5g`, `1048576`. */
function parseMemory(text) {
    const match = MEMORY_PATTERN.exec(text);
    if (match === null) {
        throw new Error(`${showValue(text)} is not a memory size; use a number with an optional unit b, k, m or g, like 512m or 4g`);
    }
    const bytes = Math.floor(Number(match[1]) * MEMORY_UNITS[match[2].toLowerCase()]);
    if (!Number.isSafeInteger(bytes))
        throw new Error(`${showValue(text)} is too large a memory size; use something like 4g or 16g`);
    if (bytes < MIN_MEMORY_BYTES)
        throw new Error(`${showValue(text)} is below Docker's minimum of 6m; use at least 6m, like 512m or 4g`);
    return bytes;
}
function parseTimeout(text) {
    const ms = parseDuration(text);
    if (ms > MAX_TIMEOUT_MS) {
        throw new Error(`${showValue(text)} is longer than the longest timeout, ${formatDuration(MAX_TIMEOUT_MS)}; use something like 30m or 6h`);
    }
    return ms;
}
/** A string field checked by a parser that throws a user-facing message. */
function parsedString(parse, notString) {
    return schemas/* string */.YjP({ error: (issue) => notString(issue.input) })
        .superRefine((text, ctx) => {
        try {
            parse(text);
        }
        catch (error) {
            ctx.addIssue({ code: "custom", message: error.message });
        }
    });
}
/** Why `entry` cannot be on an allow list, or undefined when it can. */
function allowProblem(entry) {
    if (entry.includes("://"))
        return `is a URL; list only the host, ${ALLOW_EXAMPLES}`;
    if (entry.includes("/"))
        return `has a path; the allow list matches hosts, not URLs; write only the host, ${ALLOW_EXAMPLES}`;
    if (entry.includes("@"))
        return `has user info; write only the host, ${ALLOW_EXAMPLES}`;
    if (entry.startsWith("[") || entry.split(":").length > 2) {
        return `is an IP address; the allow list takes host names only, ${ALLOW_EXAMPLES}`;
    }
    let host = entry;
    const port = /^(.*):(\d+)$/.exec(entry);
    if (port !== null) {
        host = port[1];
        const number = Number(port[2]);
        if (number < 1 || number > 65535)
            return `has port ${port[2]}; a port is 1-65535`;
    }
    if (host.includes(":"))
        return `has a port that is not a number 1-65535, ${ALLOW_EXAMPLES}`;
    const wildcard = host.startsWith("*.");
    if (wildcard)
        host = host.slice(2);
    if (host.includes("*"))
        return "has a wildcard that is not the whole first label; write it as *.example.com";
    const labels = host.split(".");
    if (schema_NUMERIC_LABEL_PATTERN.test(labels.at(-1))) {
        return `is an IP address; the allow list takes host names only, ${ALLOW_EXAMPLES}`;
    }
    if (labels.length < 2) {
        return wildcard
            ? "is too broad; a wildcard covers the subdomains of a domain with a dot in it, like *.example.com"
            : `has no dot; give a full host name, ${ALLOW_EXAMPLES}`;
    }
    if (host.length > schema_MAX_HOST_LENGTH)
        return `is longer than ${schema_MAX_HOST_LENGTH} characters, the most a host name can be`;
    const bad = labels.find((label) => !HOST_LABEL_PATTERN.test(label));
    if (bad !== undefined) {
        return bad === ""
            ? "has an empty label (two dots in a row, or a dot at an end); write it like api.github.com"
            : `has the label ${showValue(bad)}; a label is 1-63 letters, digits and hyphens, not starting or ending with a hyphen`;
    }
    return undefined;
}
/** Why `value` cannot be a route's upstream, or undefined when it can. */
function schema_upstreamProblem(value) {
    if (/\s/.test(value))
        return "contains whitespace; write the URL alone, like https://api.anthropic.com";
    let url;
    try {
        url = new URL(value);
    }
    catch {
        return "is not an absolute URL; write it like https://api.anthropic.com";
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
        return `uses ${url.protocol.slice(0, -1)}; an upstream is an http or https URL, like https://api.anthropic.com`;
    }
    // Checked on the text as well: `https://@host` and a bare `?` leave no trace in the parsed URL.
    if (url.username !== "" || url.password !== "" || /^[a-z]+:\/\/[^/?#]*@/i.test(value)) {
        return 'carries credentials; drop them from the URL and let the gate add them with "inject": { "header": ..., "fromEnv": ... }';
    }
    if (value.includes("?"))
        return "has a query; an upstream is an origin with an optional path prefix, like https://api.example.com/v1";
    if (value.includes("#"))
        return "has a fragment; an upstream is an origin with an optional path prefix, like https://api.example.com/v1";
    return undefined;
}
function nameSchema(kind, example) {
    return schemas/* string */.YjP().regex(NAME_PATTERN, {
        error: (issue) => `${kind} name ${showValue(issue.input)} is not allowed; use ${NAME_RULE}, like ${showValue(example)}`,
    });
}
function variableSchema(kind) {
    return schemas/* string */.YjP().regex(VARIABLE_PATTERN, {
        error: (issue) => `${kind} ${showValue(issue.input)} is not a variable name; use letters, digits and underscores, not starting with a digit, like ANTHROPIC_API_KEY`,
    });
}
const FromEnvSchema = schemas/* strictObject */.rej({
    fromEnv: variableSchema("fromEnv").describe("Name of the runner's environment variable whose value is passed in."),
});
const EnvValueSchema = schemas/* union */.KCZ([schemas/* string */.YjP(), FromEnvSchema], {
    error: (issue) => issue.code === "invalid_union"
        ? `${showValue(issue.input)} is not an env value; use a string, or { "fromEnv": "HOST_VAR" } to pass a variable of the runner through`
        : undefined,
})
    .describe('A literal value, or { "fromEnv": "HOST_VAR" } to copy a variable from the runner\'s environment.');
const schema_AllowEntrySchema = schemas/* string */.YjP()
    .superRefine((entry, ctx) => {
    const problem = allowProblem(entry);
    if (problem !== undefined)
        ctx.addIssue({ code: "custom", message: `${showValue(entry)} ${problem}` });
})
    .transform((entry) => entry.toLowerCase())
    .describe("A host the bottle may reach directly: host, *.host, or either with :port.");
const schema_InjectSchema = schemas/* strictObject */.rej({
    header: schemas/* string */.YjP()
        .superRefine((header, ctx) => {
        if (!GATE_INJECT_HEADER.safeParse(header).success) {
            ctx.addIssue({
                code: "custom",
                message: `${showValue(header)} is not a header the gate can inject; use an HTTP header name like x-api-key or authorization (not host, content-length or a hop-by-hop header)`,
            });
        }
    }),
    fromEnv: variableSchema("fromEnv"),
    format: schemas/* string */.YjP()
        .superRefine((format, ctx) => {
        if (format.split("{value}").length !== 2 || /[\r\n]/.test(format) || format.length > 200) {
            ctx.addIssue({ code: "custom", message: `${showValue(format)} must hold {value} exactly once, like "Bearer {value}"` });
        }
    })
        .optional()
        .describe('How the value is written into the header, like "Bearer {value}"; default the value itself.'),
})
    .describe("A header the gate adds to every request on this route, its value read from the runner's environment.");
const schema_RouteSchema = schemas/* strictObject */.rej({
    name: schemas/* string */.YjP().regex(ROUTE_NAME_PATTERN, {
        error: (issue) => `route name ${showValue(issue.input)} is not allowed; use ${NAME_RULE}, like "anthropic"`,
    }),
    upstream: schemas/* string */.YjP({
        error: (issue) => issue.input === undefined
            ? 'missing; give the URL this route forwards to, like "upstream": "https://api.anthropic.com"'
            : `${showValue(issue.input)} is not a URL; write the upstream as a string like "https://api.anthropic.com"`,
    })
        .superRefine((upstream, ctx) => {
        const problem = schema_upstreamProblem(upstream);
        if (problem !== undefined)
            ctx.addIssue({ code: "custom", message: `${showValue(upstream)} ${problem}` });
    })
        .describe("The http or https origin (with an optional path prefix) this route forwards to."),
    inject: schema_InjectSchema.optional(),
    role: schemas/* enum */.k5n(["anthropic", "anthropic-oauth"], {
        error: (issue) => `${showValue(issue.input)} is not a route role; use "anthropic" (API key) or "anthropic-oauth" (OAuth token)`,
    })
        .optional()
        .describe('"anthropic" or "anthropic-oauth": the agent reaches the Anthropic API through this route, holding a placeholder API key or OAuth token.'),
});
const RoutesSchema = schemas/* array */.YOg(schema_RouteSchema).superRefine((routes, ctx) => {
    const names = new Map();
    let anthropic;
    routes.forEach((route, index) => {
        if (!isRecord(route))
            return;
        if (typeof route.name === "string") {
            const first = names.get(route.name);
            if (first === undefined) {
                names.set(route.name, index);
            }
            else {
                ctx.addIssue({
                    code: "custom",
                    path: [index, "name"],
                    message: `${showValue(route.name)} is already the name of routes[${first}]; give each route its own name`,
                });
            }
        }
        if (route.role === "anthropic" || route.role === "anthropic-oauth") {
            if (anthropic !== undefined) {
                ctx.addIssue({
                    code: "custom",
                    path: [index, "role"],
                    message: `routes[${anthropic}] already has an anthropic role; a bottle has at most one anthropic route`,
                });
            }
            else {
                anthropic = index;
            }
        }
    });
}, 
// Runs even when one route is malformed, so every problem shows up in one pass.
{ when: (payload) => Array.isArray(payload.value) });
const EgressSchema = schemas/* strictObject */.rej({
    allow: schemas/* array */.YOg(schema_AllowEntrySchema).default([]).describe("Hosts the bottle may reach directly, besides its routes."),
    routes: RoutesSchema.default([]).describe("Upstreams reached through the gate, which can inject credentials."),
    mode: schemas/* enum */.k5n(["enforce", "audit"], {
        error: (issue) => `${showValue(issue.input)} is not an egress mode; use "enforce" (refuse what is not allowed) or "audit" (allow it and log what would be refused)`,
    })
        .default("enforce")
        .describe('"enforce" refuses what the allow list does not name; "audit" lets it through and logs what would have been refused.'),
    tunnelIdle: parsedString(parseTimeout, (input) => `${showValue(input)} is not a duration; write it like "5m"`)
        .default("5m")
        .describe("How long a tunnel through the gate may sit idle before it is closed."),
    tunnelLifetime: parsedString(parseTimeout, (input) => `${showValue(input)} is not a duration; write it like "30m"`)
        .default("30m")
        .describe("How long a tunnel through the gate may stay open at most."),
})
    .transform((egress) => ({
    ...egress,
    tunnelIdleMs: parseTimeout(egress.tunnelIdle),
    tunnelLifetimeMs: parseTimeout(egress.tunnelLifetime),
}))
    .describe("Where the bottle's traffic may go; everything else is refused.");
const LimitsSchema = schemas/* strictObject */.rej({
    memory: parsedString(parseMemory, (input) => `${showValue(input)} is not a memory size; write it as a string like "512m" or "4g"`)
        .default("4g")
        .describe("Memory limit, Docker style: a number with an optional unit b, k, m or g (at least 6m)."),
    cpus: schemas/* number */.aig().gt(0).max(64).default(2).describe("CPUs the bottle may use, fractions allowed (0 < cpus <= 64)."),
    pids: schemas/* int */.Whr().min(16).default(512).describe("Most processes the bottle may run at once (at least 16)."),
    timeout: parsedString(parseTimeout, (input) => `${showValue(input)} is not a duration; write it as a string with a unit, like "90s", "30m" or "1h30m"`)
        .default("30m")
        .describe("How long the agent may run, like 90s, 30m or 1h30m."),
})
    .transform((limits) => ({
    ...limits,
    memoryBytes: parseMemory(limits.memory),
    timeoutMs: parseTimeout(limits.timeout),
}));
/** Rebuilds a bottle with capabilityBlock "rebuild" may do in one run unless maxRebuilds says otherwise. */
const DEFAULT_MAX_REBUILDS = 2;
const BottleSchema = schemas/* strictObject */.rej({
    image: schemas/* string */.YjP().min(1).optional().describe("A prebuilt image to run. Leave out image and dockerfile for the bundled agent image."),
    dockerfile: schemas/* string */.YjP().min(1).optional().describe("A Dockerfile to build, relative to the manifest."),
    buildArgs: schemas/* record */.g1P(variableSchema("build arg"), schemas/* string */.YjP()).optional().describe("Build args for the Dockerfile, like BASE_IMAGE."),
    env: schemas/* record */.g1P(variableSchema("env name"), EnvValueSchema).default({}).describe("Environment variables set in the bottle."),
    egress: EgressSchema.prefault({}),
    limits: LimitsSchema.prefault({}).describe("Resource limits; each has a default."),
    supervise: schemas/* boolean */.zMY()
        .default(false)
        .describe("Give the agent the supervise MCP server, through which it can ask for a different image (capability-block)."),
    capabilityBlock: schemas/* enum */.k5n(CAPABILITY_POLICIES, {
        error: (issue) => `${showValue(issue.input)} is not a capability-block policy; use "preserve", "rebuild" or "deny"`,
    })
        .optional()
        .describe('What a capability-block proposal does: "preserve" (default) ends the session and keeps the state for a resume on the new image, "rebuild" builds it and resumes at once, "deny" refuses it.'),
    maxRebuilds: schemas/* int */.Whr().min(0).max(10).optional().describe('With capabilityBlock "rebuild": most rebuilds in one run (default 2); further proposals are preserved.'),
})
    .superRefine((bottle, ctx) => {
    if (bottle.image !== undefined && bottle.dockerfile !== undefined) {
        ctx.addIssue({
            code: "custom",
            message: 'has both "image" and "dockerfile"; a bottle runs a prebuilt image or builds one from a Dockerfile, so remove one',
        });
    }
    for (const key of ["capabilityBlock", "maxRebuilds"]) {
        if (bottle[key] !== undefined && bottle.supervise !== true) {
            ctx.addIssue({
                code: "custom",
                path: [key],
                message: `only applies to a supervised bottle; set "supervise": true, or remove "${key}"`,
            });
        }
    }
    if (bottle.image !== undefined && bottle.buildArgs !== undefined) {
        ctx.addIssue({
            code: "custom",
            path: ["buildArgs"],
            message: 'build args only apply when the bottle is built from a Dockerfile; remove "buildArgs", or "image" to build instead',
        });
    }
}, { when: (payload) => isRecord(payload.value) })
    .transform((bottle) => ({
    ...bottle,
    buildArgs: bottle.buildArgs ?? {},
    capabilityBlock: bottle.capabilityBlock ?? "preserve",
    maxRebuilds: bottle.maxRebuilds ?? DEFAULT_MAX_REBUILDS,
}));
const AgentSchema = schemas/* strictObject */.rej({
    bottle: schemas/* string */.YjP({
        error: (issue) => issue.input === undefined
            ? 'missing; name the bottle this agent runs in, one of the keys of "bottles"'
            : `${showValue(issue.input)} is not a bottle name; name one of the keys of "bottles" as a string`,
    })
        .describe('The bottle this agent runs in: a key of "bottles".'),
    prompt: schemas/* string */.YjP().default("").describe("Appended to claude's system prompt."),
    model: schemas/* string */.YjP().min(1).optional().describe("The model claude uses, like claude-sonnet-4-5; leave out for claude's default."),
    maxTurns: schemas/* int */.Whr().min(1).max(10_000).optional().describe("Most turns claude may take before it stops."),
});
const ManifestSchema = schemas/* strictObject */.rej({
    $schema: schemas/* string */.YjP().optional().describe("Ignored; lets an editor find this JSON Schema."),
    bottles: schemas/* record */.g1P(nameSchema("bottle", "default"), BottleSchema)
        .refine((bottles) => Object.keys(bottles).length > 0, {
        message: 'no bottles defined; add one, like "bottles": { "default": {} }',
    })
        .describe("Sandboxes, by name."),
    agents: schemas/* record */.g1P(nameSchema("agent", "claude"), AgentSchema)
        .refine((agents) => Object.keys(agents).length > 0, {
        message: 'no agents defined; add one, like "agents": { "claude": { "bottle": "default" } }',
    })
        .describe("Agents, by name; each runs in one of the bottles."),
})
    .superRefine((manifest, ctx) => {
    const bottles = Object.keys(manifest.bottles);
    for (const [name, agent] of Object.entries(manifest.agents)) {
        if (!isRecord(agent) || typeof agent.bottle !== "string" || Object.hasOwn(manifest.bottles, agent.bottle))
            continue;
        const path = ["agents", name, "bottle"];
        if (!NAME_PATTERN.test(agent.bottle)) {
            ctx.addIssue({
                code: "custom",
                path,
                message: `${showValue(agent.bottle)} cannot name a bottle; bottle names are ${NAME_RULE}`,
            });
            continue;
        }
        // With no bottles at all, "no bottles defined" already says what to do.
        if (bottles.length === 0)
            continue;
        const guess = closest(agent.bottle, bottles);
        ctx.addIssue({
            code: "custom",
            path,
            message: guess !== undefined
                ? `${showValue(agent.bottle)} is not a bottle in this manifest; did you mean ${showValue(guess)}? (bottles: ${bottles.join(", ")})`
                : `${showValue(agent.bottle)} is not a bottle in this manifest; use one of: ${bottles.join(", ")}`,
        });
    }
}, 
// Runs even when a bottle is malformed: a dangling reference is worth reporting in the same pass.
{ when: (payload) => isRecord(payload.value) && isRecord(payload.value.bottles) && isRecord(payload.value.agents) });
const EXPECTED = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    object: "an object",
    record: "an object",
    array: "an array",
};
function kindOf(value) {
    if (value === null)
        return "null";
    if (Array.isArray(value))
        return "an array";
    if (typeof value === "object")
        return "an object";
    if (typeof value === "boolean")
        return "a boolean";
    return `a ${typeof value}`;
}
function unknownKeysMessage(keys, known) {
    const guesses = keys.map((key) => closest(key, known));
    if (keys.length === 1 && guesses[0] !== undefined)
        return `unknown key ${showValue(keys[0])}; did you mean ${showValue(guesses[0])}?`;
    const named = keys.map((key, i) => (guesses[i] !== undefined ? `${showValue(key)} (did you mean ${showValue(guesses[i])}?)` : showValue(key)));
    return `unknown key${keys.length > 1 ? "s" : ""} ${named.join(", ")}; allowed keys are ${known.join(", ")}`;
}
/**
 * Messages for the issues the schema leaves to zod's defaults: wrong types,
 * unknown keys, numbers out of range. Pass it as `error` with `reportInput: true`
 * so the message can name the value.
 */
const describeManifestIssue = (issue) => {
    switch (issue.code) {
        case "invalid_type": {
            const expected = EXPECTED[issue.expected] ?? issue.expected;
            if (issue.input === undefined)
                return `missing; expected ${expected}`;
            if (issue.expected === "int" && typeof issue.input === "number")
                return `${showValue(issue.input)} is not a whole number`;
            return `${showValue(issue.input)} is ${kindOf(issue.input)}; expected ${expected}`;
        }
        case "unrecognized_keys": {
            const known = issue.inst instanceof schemas/* ZodObject */.bvH ? Object.keys(issue.inst.shape) : [];
            return unknownKeysMessage(issue.keys, known);
        }
        case "too_small":
            if (issue.origin === "string")
                return `${showValue(issue.input)} is empty; give a value or leave the key out`;
            return `${showValue(issue.input)} is too small; use ${issue.inclusive ? "at least" : "more than"} ${issue.minimum}`;
        case "too_big":
            return `${showValue(issue.input)} is too big; use ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
        case "invalid_value":
            return `${showValue(issue.input)} is not allowed; use ${issue.values.map((value) => showValue(value)).join(" or ")}`;
        case "invalid_key":
            return issue.issues.map((inner) => inner.message).join("; ");
        case "invalid_format":
            return `${showValue(issue.input)} does not match ${issue.pattern ?? issue.format}`;
        default:
            return undefined;
    }
};
/** The JSON Schema of what a manifest file may contain, for editors. */
function manifestJsonSchema() {
    const { $schema, ...rest } = z.toJSONSchema(ManifestSchema, { io: "input", target: "draft-2020-12" });
    return {
        $schema,
        title: "claude-bottle manifest",
        description: "Bottles (sandboxes) and the agents that run in them.",
        ...rest,
    };
}

;// CONCATENATED MODULE: ./src/manifest/load.ts
/**
 * Finding, reading and validating the manifest, and the one error a bad manifest
 * raises. `ManifestError` lists every problem at once, each at its JSON path, so
 * a user fixes the file in one pass; the CLI prints its message as is.
 *
 * Without an explicit path the manifest is `claude-bottle.json` in the working
 * directory, or the embedded default when there is none: a project needs no file
 * to run the default agent.
 */




const MANIFEST_FILE = "claude-bottle.json";
/** What `LoadedManifest.path` says for the embedded default; loading this path loads it again. */
const EMBEDDED_MANIFEST_PATH = "(embedded default)";
class ManifestError extends Error {
    file;
    issues;
    constructor(file, issues) {
        super([`invalid manifest ${file}:`, ...issues.map((issue) => `  ${issue.path}: ${issue.message}`)].join("\n"));
        this.file = file;
        this.issues = issues;
        this.name = "ManifestError";
    }
}
function loadManifest(opts) {
    if (opts.path === undefined || opts.path === EMBEDDED_MANIFEST_PATH) {
        const implicit = (0,external_node_path_.resolve)(opts.cwd, MANIFEST_FILE);
        const text = opts.path === undefined ? readManifestFile(implicit) : undefined;
        if (text !== undefined)
            return { manifest: parseManifest(text, implicit), path: implicit, dir: (0,external_node_path_.dirname)(implicit), embedded: false };
        return {
            manifest: validateManifest(DEFAULT_MANIFEST, EMBEDDED_MANIFEST_PATH),
            path: EMBEDDED_MANIFEST_PATH,
            dir: opts.cwd,
            embedded: true,
        };
    }
    const path = (0,external_node_path_.resolve)(opts.cwd, opts.path);
    const text = readManifestFile(path);
    if (text === undefined) {
        throw new ManifestError(path, [
            { path: "(file)", message: `no such file; check the manifest path, or leave it out to use ./${MANIFEST_FILE} or the embedded default` },
        ]);
    }
    return { manifest: parseManifest(text, path), path, dir: (0,external_node_path_.dirname)(path), embedded: false };
}
/** Parses and validates manifest text; `file` only labels the errors. Throws ManifestError. */
function parseManifest(text, file) {
    return validateManifest(parseJson(text, file), file);
}
/** Deeper than any real manifest; checked before validation, which recurses once per level. */
const MAX_DEPTH = 64;
function depthOf(value, limit) {
    if (typeof value !== "object" || value === null)
        return 0;
    if (limit <= 0)
        return 1;
    let deepest = 0;
    for (const child of Object.values(value))
        deepest = Math.max(deepest, depthOf(child, limit - 1));
    return deepest + 1;
}
function validateManifest(data, file) {
    if (depthOf(data, MAX_DEPTH) > MAX_DEPTH) {
        throw new ManifestError(file, [{ path: "(file)", message: `is nested more than ${MAX_DEPTH} levels deep; a manifest is a few levels of objects, like { "bottles": { "default": {} } }` }]);
    }
    const result = ManifestSchema.safeParse(data, { reportInput: true, error: describeManifestIssue });
    if (result.success)
        return result.data;
    throw new ManifestError(file, result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })));
}
/** The file's text, or undefined when there is no such file. */
function readManifestFile(path) {
    try {
        return (0,external_node_fs_.readFileSync)(path, "utf8");
    }
    catch (error) {
        const code = error.code;
        if (code === "ENOENT")
            return undefined;
        const problem = code === "EISDIR"
            ? `is a directory; give the path of a JSON file like ${MANIFEST_FILE}`
            : `cannot be read (${code ?? error.message}); check the file's permissions`;
        throw new ManifestError(path, [{ path: "(file)", message: problem }]);
    }
}
function parseJson(text, file) {
    // Editors on some platforms save a byte order mark; JSON.parse rejects it.
    const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
    if (body.trim() === "") {
        throw new ManifestError(file, [
            { path: "(file)", message: 'is empty; a manifest is a JSON object like { "bottles": { "default": {} }, "agents": { "claude": { "bottle": "default" } } }' },
        ]);
    }
    try {
        return JSON.parse(body);
    }
    catch (error) {
        const message = error.message;
        const { line, column } = lineAndColumn(body, syntaxErrorOffset(body, message));
        const reason = message
            .replace(/ in JSON at position \d+.*$/s, "")
            .replace(/ at position \d+.*$/s, "")
            // V8 quotes a snippet of the text, cut with "..." when long; the line and column say more.
            .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, "");
        throw new ManifestError(file, [{ path: "(file)", message: `not valid JSON at line ${line}, column ${column}: ${reason}` }]);
    }
}
/**
 * Where JSON.parse gave up. V8 reports a position for most errors but not for
 * "Unexpected token" or an early end; then the offending character is found by
 * bisecting for the shortest prefix that fails for a reason other than ending
 * too soon. Parsing is left to right, so once a prefix fails that way every
 * longer one does too.
 */
function syntaxErrorOffset(text, message) {
    const reported = / at position (\d+)/.exec(message);
    if (reported !== null)
        return Number(reported[1]);
    if (message.includes("Unexpected end of JSON input"))
        return text.length;
    const failsHard = (length) => {
        try {
            JSON.parse(text.slice(0, length));
            return false;
        }
        catch (error) {
            const inner = error.message;
            if (inner.includes("Unexpected end of JSON input"))
                return false;
            const at = / at position (\d+)/.exec(inner);
            return at === null || Number(at[1]) < length;
        }
    };
    let low = 1;
    let high = text.length;
    while (low < high) {
        const middle = Math.floor((low + high) / 2);
        if (failsHard(middle))
            high = middle;
        else
            low = middle + 1;
    }
    return low - 1;
}
function lineAndColumn(text, offset) {
    const before = text.slice(0, offset);
    const lastBreak = before.lastIndexOf("\n");
    return { line: before.split("\n").length, column: offset - lastBreak };
}
/** `["bottles", "default", "egress", "routes", 0, "upstream"]` → `bottles.default.egress.routes[0].upstream`. */
function formatPath(path) {
    if (path.length === 0)
        return "(root)";
    return path
        .map((segment, index) => {
        if (typeof segment === "number")
            return `[${segment}]`;
        const key = String(segment);
        if (/^[A-Za-z0-9_$-]+$/.test(key))
            return index === 0 ? key : `.${key}`;
        return `[${JSON.stringify(key)}]`;
    })
        .join("");
}

;// CONCATENATED MODULE: ./src/bottle/prepare.ts
/**
 * From what a user asked (a start of an agent, a resume of an identity) to a plan:
 * load the manifest, mint or check the identity, read what the state says, probe
 * the engine's runtimes. Shared by the CLI and the action; creates nothing.
 */











function runnerId() {
    return `${(0,external_node_os_.hostname)()}/${process.pid}`;
}
async function planStart(request, deps) {
    const loaded = loadManifest({ ...(request.manifest ? { path: request.manifest } : {}), cwd: request.cwd });
    const identity = request.identity ? parseIdentity(request.identity, "identity") : mintIdentity(request.agent.slice(0, 40));
    return resolvePlan({
        loaded,
        agent: request.agent,
        mode: "start",
        identity,
        prompt: request.prompt,
        resumeSession: null,
        workspace: checkWorkspace(request.workspace ?? request.cwd, request.cwd),
        perBottleDockerfile: await perBottleDockerfile(deps.state, identity, null),
        env: deps.env,
        runtimes: deps.docker ? await deps.docker.runtimes() : [],
        runnerId: runnerId(),
        snapshotIntervalMs: request.snapshotIntervalMs,
        capabilityBlock: request.capabilityBlock,
        maxRebuilds: request.maxRebuilds,
    });
}
async function planResume(request, deps) {
    const identity = parseIdentity(request.identity, "identity");
    const metadata = await deps.state.readMetadata(identity);
    if (!metadata) {
        throw new InputError("identity", identity, `has no saved state in ${deps.state.root}`, "check the identity with `node runner list`, or set CLAUDE_BOTTLE_HOME to where the state was kept");
    }
    if (!metadata.sessionId) {
        throw new InputError("identity", identity, "has state but no claude session was ever recorded in it", `start the agent again with \`node runner start ${metadata.agent} --prompt ...\``);
    }
    // The manifest the bottle was started from (the embedded default reloads as itself).
    const loaded = loadManifest({ path: metadata.manifestPath, cwd: request.cwd });
    return resolvePlan({
        loaded,
        agent: metadata.agent,
        mode: "resume",
        identity,
        prompt: request.prompt ?? (await resumePrompt(metadata, deps.state)),
        resumeSession: metadata.sessionId,
        workspace: request.workspace
            ? checkWorkspace(request.workspace, request.cwd)
            : checkWorkspace(metadata.workspace, request.cwd, `${deps.state.metadataPath(identity)}: workspace`, "pass --workspace DIR to resume in another directory"),
        perBottleDockerfile: await perBottleDockerfile(deps.state, identity, metadata),
        env: deps.env,
        runtimes: deps.docker ? await deps.docker.runtimes() : [],
        runnerId: runnerId(),
        snapshotIntervalMs: request.snapshotIntervalMs,
        capabilityBlock: request.capabilityBlock,
        maxRebuilds: request.maxRebuilds,
    });
}
/**
 * The state's per-bottle Dockerfile, checked: it may come from a restored cache
 * archive. A rebuild proposal the runner stopped before building still waits in
 * Dockerfile.proposed; it is what the bottle continues on.
 */
async function perBottleDockerfile(state, identity, metadata) {
    const waiting = metadata?.outcome === "capability-block" ? await (0,promises_.readFile)(state.proposedDockerfilePath(identity), "utf8").catch(() => null) : null;
    const text = waiting ?? (await state.readDockerfile(identity));
    if (text === null)
        return null;
    const problem = dockerfileProblem(text);
    if (problem) {
        throw new InputError(waiting !== null ? "Dockerfile.proposed" : "Dockerfile", waiting !== null ? state.proposedDockerfilePath(identity) : state.dockerfilePath(identity), `(the bottle's per-bottle Dockerfile) is not usable: ${problem}`, "fix the file, or remove it to build from the manifest's image again");
    }
    return text;
}
/** What a resumed session is told, by how the last launch ended. */
async function resumePrompt(metadata, state) {
    if (metadata.outcome === "capability-block")
        return REBUILT_RESUME_PROMPT;
    // After a failed immediate rebuild the previous Dockerfile is still the bottle's: tell the agent why.
    if (metadata.outcome === "build-failed" && (0,external_node_fs_.existsSync)(state.proposedDockerfilePath(metadata.identity))) {
        const log = await (0,promises_.readFile)(state.buildLogPath(metadata.identity), "utf8").catch(() => "");
        const tail = log.trimEnd().split("\n").slice(-20).join("\n");
        return [
            "The Dockerfile you proposed with capability-block did not build, so this bottle still runs the image it had.",
            tail ? `The end of the build log:\n\n${tail}\n` : "",
            "Propose a corrected Dockerfile with capability-block, or continue the task without it.",
        ]
            .filter(Boolean)
            .join("\n");
    }
    return DEFAULT_RESUME_PROMPT;
}
function checkWorkspace(dir, cwd, field = "--workspace", fix = "give the directory the agent should work in (default: the current directory)") {
    const path = (0,external_node_path_.resolve)(cwd, dir);
    if (!(0,external_node_fs_.existsSync)(path) || !(0,external_node_fs_.statSync)(path).isDirectory())
        throw new InputError(field, dir, "is not a directory", fix);
    return path;
}

;// CONCATENATED MODULE: ./src/store/state-archive.ts
/**
 * A bottle's state directory as one tar file, the unit the Actions cache and the
 * artifacts carry. Packing is ours (tar-fs); so is unpacking, because what comes
 * back from a cache is untrusted: the archive is read through once and refused on
 * any absolute path, `..` segment, hardlink, device, fifo, symlink pointing outside
 * the state directory, entry placed below a symlink, or size beyond the limits —
 * before a single byte is written.
 */







const DEFAULT_LIMITS = { maxBytes: 4 * 1024 ** 3, maxEntries: 200_000 };
/** Why a restored archive was refused; the message names the entry and the rule. */
class UnsafeArchiveError extends Error {
    constructor(message) {
        super(message);
        this.name = "UnsafeArchiveError";
    }
}
async function packState(stateDir, archive) {
    await (0,promises_.mkdir)((0,external_node_path_.dirname)(archive), { recursive: true });
    await (0,external_node_stream_promises_.pipeline)(tar_fs/* pack */.q(stateDir), (0,external_node_fs_.createWriteStream)(archive, { mode: 0o600 }));
}
/** Reads the whole archive and throws UnsafeArchiveError at the first entry that breaks a rule. */
async function checkStateArchive(archive, limits = DEFAULT_LIMITS) {
    const extract = tar_stream.extract();
    let bytes = 0;
    let entries = 0;
    let sawMetadata = false;
    // Symlinks seen so far: an entry below one would be written wherever it points.
    const links = new Set();
    const refuse = (name, why) => new UnsafeArchiveError(`restored state refused: entry ${JSON.stringify(name)} ${why}`);
    const done = new Promise((resolve, reject) => {
        extract.on("entry", (header, stream, next) => {
            const fail = (error) => {
                stream.resume();
                reject(error);
                extract.destroy();
            };
            const name = header.name;
            entries++;
            bytes += header.size ?? 0;
            if (entries > limits.maxEntries)
                return fail(new UnsafeArchiveError(`restored state refused: more than ${limits.maxEntries} entries`));
            if (bytes > limits.maxBytes)
                return fail(new UnsafeArchiveError(`restored state refused: larger than ${limits.maxBytes} bytes`));
            if (name.startsWith("/") || /^[a-zA-Z]:/.test(name))
                return fail(refuse(name, "has an absolute path"));
            const normal = external_node_path_.posix.normalize(name);
            if (normal === ".." || normal.startsWith("../") || name.split("/").includes(".."))
                return fail(refuse(name, "climbs out with .."));
            const path = normal.replace(/\/$/, "");
            const parts = path.split("/");
            for (let i = 1; i < parts.length; i++) {
                const above = parts.slice(0, i).join("/");
                if (links.has(above))
                    return fail(refuse(name, `lies below the symlink ${JSON.stringify(above)}, so it would be written wherever that points`));
            }
            if (path === "metadata.json" && header.type === "file")
                sawMetadata = true;
            switch (header.type) {
                case "file":
                case "directory":
                    break;
                case "symlink": {
                    const target = header.linkname ?? "";
                    const resolved = external_node_path_.posix.normalize(external_node_path_.posix.join(external_node_path_.posix.dirname(normal), target));
                    if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
                        return fail(refuse(name, `is a symlink pointing outside the state (${target})`));
                    }
                    links.add(path);
                    break;
                }
                default:
                    return fail(refuse(name, `is a ${header.type ?? "special file"}; only files, directories and inner symlinks are allowed`));
            }
            // A tar cut inside an entry's data fails on the entry's stream, not the extractor's.
            stream.on("error", (error) => reject(new UnsafeArchiveError(`restored state refused: entry ${JSON.stringify(name)} is cut short (${error.message})`)));
            stream.on("end", next);
            stream.resume();
        });
        extract.on("finish", resolve);
        extract.on("error", (error) => reject(new UnsafeArchiveError(`restored state refused: not a readable tar archive (${error.message})`)));
    });
    (0,external_node_fs_.createReadStream)(archive)
        .on("error", (error) => extract.destroy(error))
        .pipe(extract);
    await done;
    if (!sawMetadata)
        throw new UnsafeArchiveError("restored state refused: it has no metadata.json at its top");
}
/** Checks, then unpacks into `stateDir` (replacing it whole only once unpacking succeeded). */
async function unpackState(archive, stateDir, limits = DEFAULT_LIMITS) {
    await checkStateArchive(archive, limits);
    await (0,promises_.mkdir)((0,external_node_path_.dirname)(stateDir), { recursive: true });
    const staging = await (0,promises_.mkdtemp)((0,external_node_path_.join)((0,external_node_path_.dirname)(stateDir), ".restore-"));
    try {
        // Whatever the extractor still refuses after the check is a refusal too.
        await extractInto((0,external_node_fs_.createReadStream)(archive), staging).catch((error) => {
            const message = error instanceof Error ? error.message.replaceAll(`${staging}/`, "") : String(error);
            throw new UnsafeArchiveError(`restored state refused: ${message}`);
        });
        await (0,promises_.rm)(stateDir, { recursive: true, force: true });
        await (0,promises_.rename)(staging, stateDir);
    }
    finally {
        await (0,promises_.rm)(staging, { recursive: true, force: true });
    }
}

;// CONCATENATED MODULE: ./src/store/cache-store.ts
/**
 * Preserved bottle state in the Actions cache, the store that works on GitHub,
 * Gitea and Forgejo alike. The state directory travels as one tar file of our own
 * (`.claude-bottle-cache/state.tar` under the job's workspace: the cache versions
 * entries by their paths, so the path must be the same in every job), which lets a
 * restore check the archive before unpacking it. The `@actions/cache` client is
 * passed in so tests can drive the real one against a server they own.
 */




/** Relative to the workspace, so the cache's version of the entry is the same in every job. */
const CACHE_ARCHIVE_DIR = ".claude-bottle-cache";
const ARCHIVE_NAME = "state.tar";
class CacheStore {
    cache;
    workspace;
    limits;
    constructor(cache, 
    /** Where the job's relative paths resolve (GITHUB_WORKSPACE). */
    workspace, limits = DEFAULT_LIMITS) {
        this.cache = cache;
        this.workspace = workspace;
        this.limits = limits;
    }
    get dir() {
        return (0,external_node_path_.join)(this.workspace, CACHE_ARCHIVE_DIR);
    }
    async save(stateDir, key) {
        if (!this.cache.isFeatureAvailable())
            return { key, saved: false, reason: "the Actions cache is not available in this job" };
        try {
            await packState(stateDir, (0,external_node_path_.join)(this.dir, ARCHIVE_NAME));
            // GitHub's keys are immutable: saving an existing key returns -1 rather than throwing.
            const id = await this.cache.saveCache([`${CACHE_ARCHIVE_DIR}/${ARCHIVE_NAME}`], key);
            return id === -1 ? { key, saved: false, reason: `the cache refused key ${key} (it may exist already)` } : { key, saved: true };
        }
        catch (error) {
            return { key, saved: false, reason: errors_errorMessage(error) };
        }
        finally {
            await (0,promises_.rm)(this.dir, { recursive: true, force: true });
        }
    }
    /**
     * Restores the newest state under `prefix` into `stateDir`. Null when there is none;
     * an UnsafeArchiveError when what came back breaks the archive rules (nothing is written then).
     */
    async restore(prefix, stateDir) {
        if (!this.cache.isFeatureAvailable())
            return null;
        await (0,promises_.mkdir)(this.dir, { recursive: true });
        try {
            const key = await this.cache.restoreCache([`${CACHE_ARCHIVE_DIR}/${ARCHIVE_NAME}`], prefix, [prefix]);
            if (!key)
                return null;
            await unpackState((0,external_node_path_.join)(this.dir, ARCHIVE_NAME), stateDir, this.limits);
            return { key };
        }
        finally {
            await (0,promises_.rm)(this.dir, { recursive: true, force: true });
        }
    }
}

;// CONCATENATED MODULE: ./src/action/artifact.ts
/**
 * The preserved state as an artifact, for people to read (transcript, per-bottle
 * Dockerfile, metadata). A GitHub-side extra: Gitea and Forgejo do not serve the
 * artifact protocol @actions/artifact speaks, so there it is skipped with one note
 * and the cache remains the store.
 */






async function uploadStateArtifact(deps, ctx, stateDir, name) {
    if (ctx.platform !== "github") {
        deps.core.info(`artifacts are not available on ${ctx.platform}; the state is kept in the cache only`);
        return null;
    }
    const dir = await (0,promises_.mkdtemp)((0,external_node_path_.join)((0,external_node_os_.tmpdir)(), "claude-bottle-artifact-"));
    try {
        // Readable pieces as files, the whole state as one archive.
        const files = ["metadata.json", "Dockerfile", "Dockerfile.proposed", "capability-block.json", "build.log", "events.jsonl", "egress.jsonl"].map((f) => (0,external_node_path_.join)(stateDir, f)).filter((f) => (0,external_node_fs_.existsSync)(f));
        const archive = (0,external_node_path_.join)(dir, "state.tar");
        await packState(stateDir, archive);
        const uploader = await deps.artifact();
        const direct = await uploader.uploadArtifact(name, files, stateDir);
        const whole = await uploader.uploadArtifact(`${name}-state`, [archive], dir);
        return direct.id ?? whole.id ?? null;
    }
    catch (error) {
        deps.core.warning(`the state artifact was not uploaded: ${errors_errorMessage(error)}`);
        return null;
    }
    finally {
        await (0,promises_.rm)(dir, { recursive: true, force: true });
    }
}

;// CONCATENATED MODULE: ./src/action/context.ts
/**
 * What the action knows about the job it runs in, read from the runner's
 * environment: the platform (GitHub, or Gitea/Forgejo with their differences), the
 * run and its attempt, and from those the bottle identity and cache keys.
 *
 * A start derives its identity from the repository, workflow, job, step, agent and
 * `id` input, so a re-run of the same job (same run id, next attempt) computes the
 * same identity and finds the state the failed attempt saved.
 */


function jobContext(env) {
    const platform = env.FORGEJO_ACTIONS === "true" ? "forgejo" : env.GITEA_ACTIONS === "true" ? "gitea" : "github";
    const attempt = Number.parseInt(env.GITHUB_RUN_ATTEMPT ?? "", 10);
    return {
        platform,
        repository: env.GITHUB_REPOSITORY ?? "",
        workflow: env.GITHUB_WORKFLOW_REF || env.GITHUB_WORKFLOW || "",
        ref: env.GITHUB_REF ?? "",
        job: env.GITHUB_JOB ?? "",
        step: env.GITHUB_ACTION ?? "",
        runId: env.GITHUB_RUN_ID ?? "0",
        attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
        serverUrl: env.GITHUB_SERVER_URL ?? "https://github.com",
    };
}
/** `<agent>-<5 base36>` from the job's coordinates: the same job and agent give the same identity on every attempt. */
function deriveIdentity(ctx, agent, id) {
    const digest = (0,external_node_crypto_.createHash)("sha256")
        // The workflow ref carries the branch or pull request, so parallel PRs never share a bottle.
        .update(JSON.stringify([ctx.platform, ctx.repository, ctx.workflow, ctx.ref, ctx.job, ctx.step, agent, id]))
        .digest();
    const suffix = (digest.readUInt32BE(0) % 36 ** 5).toString(36).padStart(5, "0");
    return parseIdentity(`${agent}-${suffix}`, "identity");
}
/** Cache keys are lowercase (Gitea lowercases them) and carry the attempt (GitHub's keys are immutable). */
function stateCacheKey(identity, ctx) {
    return `${stateCachePrefix(identity)}${ctx.runId}-${ctx.attempt}`.toLowerCase();
}
/** Every saved state of a bottle (a resume job), or only this run's attempts (a re-run). */
function stateCachePrefix(identity, runId) {
    return `bottle-state-${identity}-${runId ? `${runId}-` : ""}`.toLowerCase();
}

;// CONCATENATED MODULE: ./src/bottle/policy.ts
/**
 * The capability-block policy as a person overrides it for one run: the CLI's
 * `--capability-block` / `--max-rebuilds` and the action's inputs of the same names
 * read through these, so both say the same thing about a bad value.
 */


/** A capability-block policy, from a CLI flag or an action input (`field` names which). */
function parsePolicy(field, value) {
    const found = CAPABILITY_POLICIES.find((p) => p === value.trim());
    if (!found)
        throw new InputError(field, value, "is not a capability-block policy", `use one of: ${CAPABILITY_POLICIES.join(", ")}`);
    return found;
}
/** How many rebuilds one run may do: 0 to 10. */
function parseMaxRebuilds(field, value) {
    const trimmed = value.trim();
    const n = /^\d{1,2}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!(n >= 0 && n <= 10))
        throw new InputError(field, value, "is not a number of rebuilds", "give a whole number from 0 to 10");
    return n;
}

;// CONCATENATED MODULE: ./src/action/inputs.ts
/**
 * The one place the action's inputs are parsed. Every input is read through the
 * table below (typed as `Record<keyof ActionInputs, …>`, so none can be forgotten)
 * and checked with zod; a bad one becomes an InputError naming the input, the value
 * and the fix, before anything is started.
 */








const SAVE_STATE = ["cache", "cache-and-artifact", "none"];
const optional = (name) => (read) => {
    const value = read(name).trim();
    return value === "" ? null : value;
};
function choice(name, options, fallback) {
    return (read) => {
        const value = read(name).trim() || fallback;
        const parsed = schemas/* enum */.k5n(options).safeParse(value);
        if (!parsed.success)
            throw new InputError(name, value, "is not one of the choices", `use one of: ${options.join(", ")}`);
        return parsed.data;
    };
}
const FIELDS = {
    agent: (read) => {
        const value = read("agent").trim() || "claude";
        if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(value)) {
            throw new InputError("agent", value, "is not an agent name", "use a name defined under `agents` in the manifest (lowercase letters, digits, hyphens), or leave it out for `claude`");
        }
        return value;
    },
    prompt: (read, cwd) => {
        const text = read("prompt");
        const file = read("prompt-file").trim();
        if (text.trim() && file)
            throw new InputError("prompt-file", file, "is given together with prompt", "give the task either inline as prompt or in a file as prompt-file, not both");
        if (file) {
            try {
                const content = (0,external_node_fs_.readFileSync)((0,external_node_path_.resolve)(cwd, file), "utf8");
                if (!content.trim())
                    throw new InputError("prompt-file", file, "is empty", "write the task into the file");
                return content;
            }
            catch (error) {
                if (error instanceof InputError)
                    throw error;
                throw new InputError("prompt-file", file, `cannot be read (${error.code ?? "error"})`, "give a path relative to the workspace of the job");
            }
        }
        return text.trim() ? text : null;
    },
    manifest: optional("manifest"),
    mode: choice("mode", ["start", "resume"], "start"),
    identity: (read) => {
        const value = read("identity").trim();
        return value === "" ? null : parseIdentity(value, "identity");
    },
    id: (read) => {
        const value = read("id").trim();
        if (value.length > 200)
            throw new InputError("id", value, "is longer than 200 characters", "use a short value such as the matrix entry's name");
        return value;
    },
    resumePrompt: optional("resume-prompt"),
    workspace: optional("workspace"),
    timeoutMs: (read) => {
        const value = read("timeout").trim();
        if (!value)
            return null;
        try {
            return parseDuration(value);
        }
        catch {
            throw new InputError("timeout", value, "is not a duration", "write it like 90s, 30m or 1h30m");
        }
    },
    anthropicApiKey: optional("anthropic-api-key"),
    claudeCodeOauthToken: optional("claude-code-oauth-token"),
    gateImage: optional("gate-image"),
    saveState: choice("save-state", SAVE_STATE, "cache-and-artifact"),
    artifactName: (read) => {
        const value = read("artifact-name").trim();
        if (value && !/^[^\\/":<>|*?\r\n]{1,200}$/.test(value)) {
            throw new InputError("artifact-name", value, "is not a valid artifact name", 'leave out \\ / " : < > | * ? and line breaks');
        }
        return value || null;
    },
    capabilityBlock: (read) => {
        const value = read("capability-block").trim();
        return value ? parsePolicy("capability-block", value) : null;
    },
    maxRebuilds: (read) => {
        const value = read("max-rebuilds").trim();
        return value ? parseMaxRebuilds("max-rebuilds", value) : null;
    },
    failOn: (read) => {
        const value = read("fail-on").trim();
        if (!value)
            return OUTCOMES.filter((o) => o !== "success");
        const items = value.split(/[\s,]+/).filter(Boolean);
        if (items.length === 1 && items[0] === "never")
            return [];
        for (const item of items) {
            if (!OUTCOMES.includes(item)) {
                throw new InputError("fail-on", item, "is not an outcome", `list outcomes from ${OUTCOMES.join(", ")}, separated by commas, or write never`);
            }
        }
        return items;
    },
};
function parseInputs(read, cwd) {
    const inputs = Object.fromEntries(Object.entries(FIELDS).map(([key, field]) => [key, field(read, cwd)]));
    if (inputs.mode === "start" && inputs.prompt === null) {
        throw new InputError("prompt", "", "is required to start a bottle", "give the task as prompt (or prompt-file); only mode: resume may leave it out");
    }
    if (inputs.mode === "resume" && inputs.identity === null) {
        throw new InputError("identity", "", "is required in mode: resume", "pass the identity output of the job that preserved the bottle, e.g. ${{ needs.agent.outputs.identity }}");
    }
    if (inputs.mode === "start" && inputs.identity !== null) {
        throw new InputError("identity", inputs.identity, "is only read in mode: resume", "leave it out: a start derives its identity from the job, so a re-run finds the same bottle");
    }
    if (inputs.anthropicApiKey && inputs.claudeCodeOauthToken) {
        throw new InputError("claude-code-oauth-token", "(set)", "is given together with anthropic-api-key", "give one credential for the gate to inject");
    }
    return inputs;
}

// EXTERNAL MODULE: ./node_modules/diff/libesm/patch/create.js + 2 modules
var create = __webpack_require__(37291);
;// CONCATENATED MODULE: ./src/action/summary.ts
/**
 * What a person reads after the job: the job summary (outcome, identity, session,
 * turns, cost, egress, what the agent asked for with capability-block and the
 * Dockerfile diff, a failed build's log, the resume snippet) and the snippet
 * itself as an output.
 */



function resumeSnippet(identity) {
    return [`- uses: org/bottle-action@v1`, `  with:`, `    mode: resume`, `    identity: ${identity}`].join("\n");
}
/** The agent's words on one line, at most `max` characters. */
function summary_clip(text, max) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
/** A fenced block whose fence is longer than any backtick run inside: text the agent wrote cannot close it. */
function codeBlock(lang, text) {
    const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(longest + 1);
    return [`${fence}${lang}`, text, fence];
}
async function writeSummary(core, result, saved, plan) {
    const rows = [
        ["outcome", `\`${result.outcome}\`${result.exitCode !== null ? ` (claude exit ${result.exitCode})` : ""}`],
        ["identity", `\`${result.identity}\``],
        ["agent", `${plan.agent} (${plan.mode === "resume" ? "resumed" : "started"})`],
        ["session", result.sessionId ? `\`${result.sessionId}\`` : "none"],
        ["turns", String(result.numTurns ?? "-")],
        ["cost", result.costUsd === null ? "-" : `$${result.costUsd.toFixed(4)}`],
        ["state", result.preserved ? `preserved${saved.cacheKey ? ` in cache key \`${saved.cacheKey}\`` : ""}` : "cleaned up"],
        ["egress", describeEgress(result.egress).replace(/^egress: /, "")],
    ];
    const lines = [
        `### claude-bottle: ${result.outcome}`,
        "",
        "| | |",
        "|---|---|",
        ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    ];
    for (const [i, c] of result.capabilityBlocks.entries()) {
        const what = c.policy === "rebuild" ? (c.result === "build-failed" ? "rebuild failed: the proposal did not build" : "rebuilt and resumed in this run") : "preserved for a resume on the new image";
        lines.push("", `#### The agent asked for a different image${result.capabilityBlocks.length > 1 ? ` (${i + 1} of ${result.capabilityBlocks.length})` : ""}: ${what}`, "", `> ${summary_clip(c.reason, 1000)}`, "");
        const diff = (0,create/* createTwoFilesPatch */.ss)(`Dockerfile (${c.before.source})`, "Dockerfile (proposed)", c.before.text, c.proposed, "", "", { context: 3 });
        lines.push(...codeBlock("diff", diff.trimEnd()));
    }
    if (result.buildLog) {
        let tail = "";
        try {
            tail = (0,external_node_fs_.readFileSync)(result.buildLog, "utf8").trimEnd().split("\n").slice(-30).join("\n");
        }
        catch {
            tail = "(the build log could not be read)";
        }
        lines.push("", "#### The per-bottle Dockerfile did not build", "", ...codeBlock("text", tail));
    }
    if (result.capabilityBlocks.length === 0 && plan.image.kind === "build" && plan.image.source === "per-bottle" && plan.image.replaces !== undefined) {
        const diff = (0,create/* createTwoFilesPatch */.ss)("Dockerfile (before)", "Dockerfile (per-bottle)", plan.image.replaces, plan.image.dockerfile, "", "", { context: 3 });
        lines.push("", "<details><summary>This bottle runs on its own Dockerfile</summary>", "", ...codeBlock("diff", diff.trimEnd()), "", "</details>");
    }
    if (result.preserved) {
        const why = result.outcome === "capability-block" ? "Approve the new image by resuming this bottle in a later job (it builds from the proposed Dockerfile):" : "Resume this bottle in a later job (or re-run this job):";
        lines.push("", why, "", "```yaml", resumeSnippet(result.identity), "```");
    }
    try {
        await core.summary.addRaw(`${lines.join("\n")}\n`).write();
    }
    catch (error) {
        core.info(`no job summary written (${error instanceof Error ? error.message : String(error)})`);
    }
}

;// CONCATENATED MODULE: ./src/action/run.ts
/**
 * The action's main step around the shared core: inputs in, the bottle's identity
 * from the job, state restored from the cache when this is a resume (a resume job,
 * or a re-run of a job whose earlier attempt preserved its bottle), one launch, the
 * preserved state saved to the cache (and as an artifact on GitHub), outputs, a job
 * summary, and a failed step for the outcomes `fail-on` names.
 *
 * Its dependencies (toolkit, Docker client, cache and artifact clients,
 * environment) come in as arguments; `main.ts` wires the real ones.
 */














async function runMain(deps) {
    const { core } = deps;
    let inputs;
    try {
        inputs = parseInputs((name) => core.getInput(name), deps.cwd);
    }
    catch (error) {
        core.setFailed(errors_errorMessage(error));
        return;
    }
    for (const secret of [inputs.anthropicApiKey, inputs.claudeCodeOauthToken])
        if (secret)
            core.setSecret(secret);
    const ctx = jobContext(deps.env);
    const workspace = deps.env.GITHUB_WORKSPACE || deps.cwd;
    const env = gateEnv(inputs, deps.env);
    const stateHome = deps.env.CLAUDE_BOTTLE_HOME || (0,external_node_path_.join)(deps.env.RUNNER_TEMP || (0,external_node_path_.join)(workspace, ".."), "claude-bottle");
    const state = new StateStore(stateHome);
    const store = new CacheStore(deps.cache, workspace);
    const identity = inputs.mode === "resume" ? inputs.identity : deriveIdentity(ctx, inputs.agent, inputs.id);
    core.setOutput("identity", identity);
    core.saveState("main", JSON.stringify({ identity, stateHome, workspace, phase: "running" }));
    try {
        const pauseAt = pauseFromEnv(deps.env, (line) => core.info(line));
        const resumeFrom = await core.group("restore", () => restoreState(inputs, ctx, identity, state, store, core));
        const docker = await deps.docker();
        const request = {
            cwd: deps.cwd,
            workspace: inputs.workspace ?? undefined,
            capabilityBlock: inputs.capabilityBlock ?? undefined,
            maxRebuilds: inputs.maxRebuilds ?? undefined,
        };
        const prepareDeps = { docker, state, env };
        const plan = resumeFrom
            ? await planResume({ ...request, identity, prompt: inputs.resumePrompt ?? undefined }, prepareDeps)
            : await planStart({ ...request, agent: inputs.agent, prompt: inputs.prompt, manifest: inputs.manifest ?? undefined, identity }, prepareDeps);
        if (inputs.timeoutMs)
            plan.timeoutMs = inputs.timeoutMs;
        if (!plan.supervise && (inputs.capabilityBlock !== null || inputs.maxRebuilds !== null)) {
            core.warning(`capability-block and max-rebuilds have no effect: bottle ${plan.bottle} is not supervised (set "supervise": true in the manifest)`);
        }
        core.info(`bottle ${plan.identity}: ${plan.mode === "resume" ? `resuming claude session ${plan.resumeSession}` : `starting agent ${plan.agent}`}`);
        await pauseAt?.("plan");
        let successArtifact = null;
        const result = await core.group("claude", () => runBottle(plan, {
            // A clean success keeps nothing, but on GitHub its transcript can still be read as an artifact.
            ...(inputs.saveState === "cache-and-artifact"
                ? {
                    beforeCleanup: async (stateDir) => {
                        successArtifact = await uploadStateArtifact(deps, ctx, stateDir, inputs.artifactName ?? `bottle-${identity}-attempt-${ctx.attempt}`);
                    },
                }
                : {}),
            docker,
            state,
            clock: { now: () => new Date() },
            env,
            log: actionLog(core),
            signal: deps.signal,
            gateProgram: gateProgramLoader(env),
            ...(pauseAt ? { pauseAt } : {}),
        }));
        await pauseAt?.("cache-save");
        const saved = await core.group("save state", () => saveState(result, inputs, ctx, state, store, deps));
        saved.artifactId ??= successArtifact;
        setOutputs(core, result, saved);
        if (result.preserved)
            core.info(`resume this bottle in a later job (or re-run this one) with:\n${resumeSnippet(result.identity)}`);
        await writeSummary(core, result, saved, plan);
        if (inputs.failOn.includes(result.outcome)) {
            core.setFailed(`claude ended with outcome ${result.outcome}${result.preserved ? `; the bottle is preserved: resume it with identity ${result.identity}` : ""}`);
        }
    }
    catch (error) {
        if (error instanceof InputError || error instanceof ManifestError || error instanceof UnsafeArchiveError)
            core.setFailed(error.message);
        else
            core.setFailed(`claude-bottle: ${errors_errorMessage(error)}`);
    }
    finally {
        core.saveState("main", JSON.stringify({ identity, stateHome, workspace, phase: "done" }));
    }
}
/**
 * The gate's environment: the runner's, plus the credential inputs under the names
 * the manifest's routes read. Only the gate container is created from these values.
 */
function gateEnv(inputs, env) {
    return {
        ...env,
        ...(inputs.anthropicApiKey ? { ANTHROPIC_API_KEY: inputs.anthropicApiKey } : {}),
        ...(inputs.claudeCodeOauthToken ? { CLAUDE_CODE_OAUTH_TOKEN: inputs.claudeCodeOauthToken } : {}),
        ...(inputs.gateImage ? { CLAUDE_BOTTLE_GATE_IMAGE: inputs.gateImage } : {}),
    };
}
/** True when the bottle continues a saved session; a missing state is an error only in resume mode. */
async function restoreState(inputs, ctx, identity, state, store, core) {
    if (inputs.mode === "resume") {
        const prefix = stateCachePrefix(identity);
        const restored = await store.restore(prefix, state.dir(identity));
        if (!restored) {
            throw new InputError("identity", identity, `has no saved state in the cache (looked for keys starting with ${prefix})`, "check the identity output of the job that preserved the bottle, and that its state was saved (save-state not none)");
        }
        core.info(`restored ${identity} from cache key ${restored.key}`);
        return true;
    }
    if (ctx.attempt <= 1)
        return false;
    // A re-run: the same inputs, so the task is already in the session; pick up what the failed attempt kept.
    const restored = await store.restore(stateCachePrefix(identity, ctx.runId), state.dir(identity));
    if (!restored) {
        core.info(`attempt ${ctx.attempt}: no preserved state for ${identity} from an earlier attempt; starting fresh`);
        return false;
    }
    const metadata = await state.readMetadata(identity);
    if (!metadata?.sessionId) {
        core.info(`attempt ${ctx.attempt}: the saved state of ${identity} has no claude session; starting fresh`);
        await state.remove(identity);
        return false;
    }
    core.info(`attempt ${ctx.attempt}: resuming ${identity} (session ${metadata.sessionId}) from cache key ${restored.key} instead of starting fresh`);
    return true;
}
async function saveState(result, inputs, ctx, state, store, deps) {
    const saved = { cacheKey: null, artifactId: null };
    if (!result.preserved || inputs.saveState === "none")
        return saved;
    const key = stateCacheKey(result.identity, ctx);
    const cached = await store.save(state.dir(result.identity), key);
    if (cached.saved) {
        saved.cacheKey = key;
        deps.core.info(`saved the bottle's state to the cache as ${key}`);
    }
    else {
        deps.core.warning(`the bottle's state was not saved to the cache: ${cached.reason}; it is still in ${state.dir(result.identity)} on this runner`);
    }
    if (inputs.saveState === "cache-and-artifact") {
        saved.artifactId = await uploadStateArtifact(deps, ctx, state.dir(result.identity), inputs.artifactName ?? `bottle-${result.identity}-attempt-${ctx.attempt}`);
    }
    return saved;
}
function setOutputs(core, result, saved) {
    core.setOutput("identity", result.identity);
    core.setOutput("outcome", result.outcome);
    core.setOutput("exit-code", result.exitCode === null ? "" : String(result.exitCode));
    core.setOutput("session-id", result.sessionId ?? "");
    core.setOutput("preserved", String(result.preserved));
    core.setOutput("cache-key", saved.cacheKey ?? "");
    core.setOutput("artifact-id", saved.artifactId === null ? "" : String(saved.artifactId));
    core.setOutput("resume-command", result.preserved ? resumeSnippet(result.identity) : "");
}
function actionLog(core) {
    return { info: (l) => core.info(l), warn: (l) => core.warning(l), progress: (l) => core.info(l) };
}


/***/ }),

/***/ 79949:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   $6: () => (/* binding */ RUNNER_LABEL),
/* harmony export */   c4: () => (/* binding */ isNotFound),
/* harmony export */   ss: () => (/* binding */ IDENTITY_LABEL)
/* harmony export */ });
/* unused harmony export ROLE_LABEL */
/** The label every resource carries; list, clean up and detect orphans by it. */
const IDENTITY_LABEL = "claude-bottle.identity";
/** Who created the resource (`<hostname>/<pid>`), so `cleanup` can spare live runners. */
const RUNNER_LABEL = "claude-bottle.runner";
/** What the resource is for: `agent`, `gate`, `internal`, `egress`, `image`. */
const ROLE_LABEL = "claude-bottle.role";
/** Docker's own message for a missing object, so callers can treat "already gone" as success. */
function isNotFound(error) {
    return typeof error === "object" && error !== null && error.statusCode === 404;
}


/***/ }),

/***/ 10750:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   DockerodeClient: () => (/* binding */ DockerodeClient),
/* harmony export */   lineSplitter: () => (/* binding */ lineSplitter)
/* harmony export */ });
/* harmony import */ var dockerode__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(39040);
/* harmony import */ var dockerode__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(dockerode__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_stream__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(57075);
/* harmony import */ var node_stream__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_stream__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _client_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(79949);
/**
 * The dockerode implementation of `DockerClient`.
 *
 * Connection settings come from dockerode's defaults (DOCKER_HOST or the local
 * socket). Exec and log streams are demultiplexed with the modem's own demuxer,
 * both sides are awaited to the end, and the raw stream is destroyed in `finally`
 * so a failed exec never leaves a socket open.
 */



function envList(env) {
    return Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
}
function labelFilters(labels) {
    return JSON.stringify({ label: labels });
}
/** Splits a byte stream into lines, handing each complete line to `onLine`. */
function lineSplitter(onLine) {
    let pending = "";
    return {
        push(chunk) {
            pending += chunk.toString("utf8");
            let nl;
            while ((nl = pending.indexOf("\n")) >= 0) {
                onLine(pending.slice(0, nl).replace(/\r$/, ""));
                pending = pending.slice(nl + 1);
            }
        },
        flush() {
            if (pending.length > 0)
                onLine(pending);
            pending = "";
        },
    };
}
class DockerodeClient {
    docker;
    constructor(docker = new (dockerode__WEBPACK_IMPORTED_MODULE_0___default())()) {
        this.docker = docker;
    }
    async ping() {
        await this.docker.ping();
    }
    async runtimes() {
        const info = (await this.docker.info());
        return Object.keys(info.Runtimes ?? {});
    }
    async imageExists(ref) {
        try {
            await this.docker.getImage(ref).inspect();
            return true;
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return false;
            throw error;
        }
    }
    async buildImage(request, onLog) {
        const stream = await this.docker.buildImage(request.context, {
            t: request.tag,
            dockerfile: request.dockerfile,
            buildargs: request.buildArgs,
            labels: request.labels,
            rm: true,
            forcerm: true,
        });
        await new Promise((resolve, reject) => {
            this.docker.modem.followProgress(stream, (error, output) => {
                if (error)
                    return reject(error);
                const failed = output.find((o) => o.error);
                if (failed)
                    return reject(new Error(failed.errorDetail?.message ?? failed.error));
                resolve();
            }, (event) => {
                const text = event.stream ?? event.status;
                if (text)
                    for (const line of text.split("\n"))
                        if (line.trim())
                            onLog(line);
            });
        });
    }
    async pullImage(ref) {
        const stream = await this.docker.pull(ref);
        await new Promise((resolve, reject) => {
            this.docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve()));
        });
    }
    async removeImage(ref) {
        try {
            await this.docker.getImage(ref).remove({ force: true });
        }
        catch (error) {
            if (!(0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                throw error;
        }
    }
    async createNetwork(request) {
        const network = await this.docker.createNetwork({
            Name: request.name,
            Internal: request.internal,
            Labels: request.labels,
            CheckDuplicate: true,
            EnableIPv6: false,
            Driver: "bridge",
            ...(request.options ? { Options: request.options } : {}),
        });
        return network.id;
    }
    async removeNetwork(nameOrId) {
        try {
            await this.docker.getNetwork(nameOrId).remove();
        }
        catch (error) {
            if (!(0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                throw error;
        }
    }
    async listNetworks(labels) {
        const networks = await this.docker.listNetworks({ filters: labelFilters(labels) });
        return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    }
    async networkSubnets(nameOrId) {
        const info = (await this.docker.getNetwork(nameOrId).inspect());
        return (info.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s) => Boolean(s));
    }
    async createContainer(request) {
        const container = await this.docker.createContainer({
            name: request.name,
            Image: request.image,
            Cmd: request.cmd,
            User: request.user,
            ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
            Env: envList(request.env),
            Labels: request.labels,
            HostConfig: {
                NetworkMode: request.network,
                CapDrop: request.capDrop,
                SecurityOpt: request.securityOpt,
                ...(request.memoryBytes ? { Memory: request.memoryBytes, MemorySwap: request.memoryBytes } : {}),
                ...(request.nanoCpus ? { NanoCpus: request.nanoCpus } : {}),
                ...(request.pidsLimit ? { PidsLimit: request.pidsLimit } : {}),
                ...(request.runtime ? { Runtime: request.runtime } : {}),
                ...(request.readonlyRootfs ? { ReadonlyRootfs: true } : {}),
                ...(request.tmpfs ? { Tmpfs: request.tmpfs } : {}),
                ...(request.dns?.length ? { Dns: request.dns } : {}),
            },
            NetworkingConfig: {
                EndpointsConfig: { [request.network]: { Aliases: request.networkAliases ?? [] } },
            },
        });
        return container.id;
    }
    async connectNetwork(container, network, aliases) {
        await this.docker.getNetwork(network).connect({ Container: container, EndpointConfig: { Aliases: aliases } });
    }
    async startContainer(container) {
        await this.docker.getContainer(container).start();
    }
    async removeContainer(container) {
        try {
            await this.docker.getContainer(container).remove({ force: true, v: true });
        }
        catch (error) {
            // 409: removal already in progress — the container is going away either way.
            const code = error.statusCode;
            if (!(0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error) && code !== 409)
                throw error;
        }
    }
    async listContainers(labels) {
        const containers = await this.docker.listContainers({ all: true, filters: labelFilters(labels) });
        return containers.map((c) => ({
            id: c.Id,
            name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
            labels: c.Labels ?? {},
            running: c.State === "running",
        }));
    }
    async isRunning(container) {
        try {
            const info = await this.docker.getContainer(container).inspect();
            return info.State.Running;
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return false;
            throw error;
        }
    }
    async waitForLogLine(container, onLine, timeoutMs) {
        const raw = (await this.docker
            .getContainer(container)
            .logs({ follow: true, stdout: true, stderr: false }));
        const stdout = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
        try {
            return await new Promise((resolve) => {
                const timer = setTimeout(() => resolve("timeout"), timeoutMs);
                const done = (how) => {
                    clearTimeout(timer);
                    resolve(how);
                };
                const lines = lineSplitter((line) => {
                    if (onLine(line))
                        done("matched");
                });
                stdout.on("data", (chunk) => lines.push(chunk));
                raw.on("end", () => {
                    lines.flush();
                    done("exited");
                });
                raw.on("error", () => done("exited"));
                this.docker.modem.demuxStream(raw, stdout, new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough());
            });
        }
        finally {
            raw.destroy();
        }
    }
    async followLogs(container, onLine) {
        const raw = (await this.docker
            .getContainer(container)
            .logs({ follow: true, stdout: true, stderr: false }));
        const stdout = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
        const lines = lineSplitter(onLine);
        stdout.on("data", (chunk) => lines.push(chunk));
        const ended = new Promise((resolve) => {
            raw.on("end", resolve);
            raw.on("close", resolve);
            raw.on("error", () => resolve());
        });
        this.docker.modem.demuxStream(raw, stdout, new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough());
        return {
            async stop() {
                // Give lines already on their way a moment to arrive before the stream is cut.
                await Promise.race([ended, new Promise((r) => setTimeout(r, 200))]);
                raw.destroy();
                lines.flush();
            },
        };
    }
    async logsTail(container, lines) {
        try {
            const buffer = (await this.docker
                .getContainer(container)
                .logs({ stdout: true, stderr: true, tail: lines, follow: false }));
            return demuxBuffer(buffer);
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return "";
            throw error;
        }
    }
    async putArchive(container, path, tar) {
        await this.docker.getContainer(container).putArchive(tar, { path });
    }
    async getArchive(container, path) {
        try {
            return (await this.docker.getContainer(container).getArchive({ path }));
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return null;
            throw error;
        }
    }
    async exec(container, request, handlers = {}) {
        const exec = await this.docker.getContainer(container).exec({
            Cmd: request.cmd,
            User: request.user,
            ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
            Env: envList(request.env),
            AttachStdout: true,
            AttachStderr: true,
            AttachStdin: false,
            Tty: false,
        });
        const stream = (await exec.start({ hijack: true, stdin: false }));
        try {
            const stdout = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
            const stderr = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
            stdout.on("data", (c) => handlers.stdout?.(c));
            stderr.on("data", (c) => handlers.stderr?.(c));
            this.docker.modem.demuxStream(stream, stdout, stderr);
            await new Promise((resolve) => {
                stream.on("end", resolve);
                stream.on("close", resolve);
                stream.on("error", () => resolve());
            });
        }
        finally {
            stream.destroy();
        }
        // The output stream can close a moment before the engine records the exit code.
        for (let i = 0; i < 100; i++) {
            const info = await exec.inspect();
            if (!info.Running)
                return info.ExitCode ?? -1;
            await new Promise((r) => setTimeout(r, 50));
        }
        return -1;
    }
}
/** Decodes Docker's multiplexed log framing (8-byte headers) from a whole buffer. */
function demuxBuffer(buffer) {
    if (!Buffer.isBuffer(buffer))
        return String(buffer);
    const parts = [];
    let offset = 0;
    while (offset + 8 <= buffer.length) {
        const size = buffer.readUInt32BE(offset + 4);
        parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
        offset += 8 + size;
    }
    return parts.join("");
}


/***/ })

};
