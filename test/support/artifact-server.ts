/**
 * An in-process Actions artifact service the tests own, spoken to by the real
 * `@actions/artifact` client. Node built-ins only, everything in memory.
 * - Upload, as github.com serves it (and Gitea 1.23+ and Forgejo, flavour "gitea"): the
 *   Twirp `ArtifactService` on ACTIONS_RESULTS_URL (CreateArtifact, FinalizeArtifact, and
 *   ListArtifacts for the job's own run) and the endpoint its signed upload URL names: Azure
 *   Blob on github.com (Put Block, Put Block List, Put Blob), Gitea's own UploadArtifact
 *   (the same block calls). An artifact's name is unique within its run, attempts included.
 * - Reading another run's artifacts (flavour "github"): the REST API on GITHUB_API_URL, with
 *   a token — a repository's artifacts by name, a run's artifacts, one artifact, and its
 *   download (a 302 to a signed blob URL, served zipped or raw as it was uploaded).
 * `v4: false` stands for a Gitea older than 1.23: no ArtifactService at all (404).
 *
 * A runner gives a job one results host and one runtime token for the cache and the
 * artifacts together, and the token names the job's workflow run. So this server is that
 * host: `jobEnv` mints a token per job, and whatever it does not serve itself it forwards to
 * the cache server it fronts, signed with that server's own token.
 */
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type CacheServer,
  azureError,
  azureHeaders,
  drain,
  json,
  readBody,
  readJson,
  serveBytes,
  twirpError,
} from "./cache-server.js";

export interface ArtifactServerOptions {
  /** Whose server to imitate (default "github"). Only github.com lets one run read another's artifacts. */
  flavour?: "github" | "gitea";
  /** False for a server without the v4 artifact protocol (default true). */
  v4?: boolean;
  /** The cache server a job reaches through this one, as through a runner's results host. */
  cache?: CacheServer;
  /** `owner/name` of the repository the runs belong to (default octo/widgets, as test/support/action.ts). */
  repository?: string;
}

export interface StoredArtifact {
  id: number;
  name: string;
  runId: number;
  size: number;
  mimeType: string;
  digest: string;
  expired: boolean;
}

export interface ArtifactJob {
  runId: string;
  attempt?: number;
  /** A pull request's run from a fork: its artifacts still land in this repository. */
  fork?: boolean;
}

export interface ArtifactServer {
  url: string;
  /** A token that may read the repository's artifacts (`actions: read`), like the job's GITHUB_TOKEN. */
  token: string;
  /** A token the API knows whose job was given no `actions: read`. */
  tokenWithoutActionsRead: string;
  /** What a runner sets for one job of run `runId` (the fronted cache server's variables included). */
  jobEnv(job: ArtifactJob): Record<string, string>;
  artifacts(): StoredArtifact[];
  /** Marks an artifact expired, as its retention period ending does: listed, no longer downloadable. */
  expire(id: number): void;
  /** Every request this server answered itself, in arrival order; `path` includes the query. */
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

interface Job {
  runId: number;
  runBackendId: string;
  jobBackendId: string;
  headRepositoryId: number;
}

interface Artifact {
  id: number;
  name: string;
  job: Job;
  mimeType: string;
  createdAt: Date;
  expiresAt: Date;
  expired: boolean;
  /** The finalized bytes; null while being uploaded. */
  data: Buffer | null;
  digest: string;
  blocks: Map<string, Buffer>;
  blob: Buffer | null;
}

const TWIRP = "/twirp/github.actions.results.api.v1.ArtifactService/";
const BLOBS = "/devstoreaccount1/actions-results/";
const REPOSITORY_ID = 1296269;
const FORK_REPOSITORY_ID = 4242424;
const MAX_BYTES = 200 * 1024 * 1024;
const RETENTION_MS = 90 * 24 * 3600 * 1000;

export async function startArtifactServer(options: ArtifactServerOptions = {}): Promise<ArtifactServer> {
  const gitea = options.flavour === "gitea";
  const v4 = options.v4 ?? true;
  const repository = options.repository ?? "octo/widgets";
  const secret = randomBytes(32);
  const jobs = new Map<string, Job>();
  const runBackendIds = new Map<string, string>();
  const store: Artifact[] = [];
  const requests: { method: string; path: string }[] = [];
  const token = `ghs_${randomBytes(18).toString("base64url")}`;
  const tokenWithoutActionsRead = `ghs_${randomBytes(18).toString("base64url")}`;
  let lastId = 0;
  let lastJob = 0;

  const sign = (id: number, permission: string) =>
    createHmac("sha256", secret).update(`${id}:${permission}`).digest("base64url");
  // github.com signs Azure Blob URLs; Gitea points back at its own ArtifactService with the ids in the query.
  const signedUrl = (a: Artifact, permission: "r" | "cw") =>
    gitea
      ? `${base()}${TWIRP}${permission === "r" ? "DownloadArtifact" : "UploadArtifact"}?sig=${sign(a.id, permission)}&expires=${encodeURIComponent(a.expiresAt.toISOString())}&artifactName=${encodeURIComponent(a.name)}&taskID=${a.job.jobBackendId}&artifactID=${a.id}`
      : `${base()}${BLOBS}${a.id}?sv=2025-01-05&sr=b&sp=${permission}&sig=${sign(a.id, permission)}`;
  const finalized = () => store.filter((a) => a.data !== null);

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://artifacts.invalid").pathname;
    const ours = path.startsWith(TWIRP) || path.startsWith(BLOBS) || path.startsWith("/repos/");
    if (!ours && options.cache) return forward(req, res, options.cache);
    requests.push({ method: req.method ?? "", path: req.url ?? "" });
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(500, { "content-type": "text/plain" }).end(`artifact server: ${String(error)}`);
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://artifacts.invalid");
    if (gitea && v4 && /^(Upload|Download)Artifact$/.test(url.pathname.slice(TWIRP.length))) return blob(req, res, url);
    if (url.pathname.startsWith(TWIRP) && v4) return twirp(req, res, url);
    if (url.pathname.startsWith(BLOBS) && v4 && !gitea) return blob(req, res, url);
    if (url.pathname.startsWith("/repos/") && !gitea) return rest(req, res, url);
    await drain(req);
    res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found\n");
  }

  // --- upload: Twirp ArtifactService -----------------------------------------------------

  async function twirp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const job = jobs.get((req.headers.authorization ?? "").replace(/^Bearer /, ""));
    if (!job) {
      await drain(req);
      return twirpError(res, 401, "unauthenticated", "the runtime token is missing or not one this runner issued");
    }
    if (req.method !== "POST") {
      await drain(req);
      return twirpError(res, 404, "bad_route", `no handler for ${req.method} ${url.pathname}`);
    }
    const body = await readJson(req);
    if (body === null) return twirpError(res, 400, "malformed", "the request body is not a JSON object");
    if (body.workflow_run_backend_id !== job.runBackendId || body.workflow_job_run_backend_id !== job.jobBackendId) {
      return twirpError(
        res,
        403,
        "permission_denied",
        "the backend ids are not the ones of the job this token was issued to",
      );
    }
    const method = url.pathname.slice(TWIRP.length);
    if (method === "ListArtifacts") {
      const listed = finalized().filter(
        (a) =>
          a.job.runBackendId === job.runBackendId && (body.name_filter === undefined || a.name === body.name_filter),
      );
      return json(res, 200, {
        artifacts: listed.map((a) => ({
          workflow_run_backend_id: a.job.runBackendId,
          workflow_job_run_backend_id: a.job.jobBackendId,
          database_id: String(a.id),
          name: a.name,
          size: String(a.data?.length ?? 0),
          created_at: a.createdAt.toISOString(),
          digest: a.digest,
        })),
      });
    }
    const name = typeof body.name === "string" ? body.name : "";
    if (!name) return twirpError(res, 400, "invalid_argument", "name is required");
    const sameRun = store.filter((a) => a.job.runBackendId === job.runBackendId && a.name === name);
    switch (method) {
      case "CreateArtifact": {
        if (sameRun.length > 0)
          return twirpError(
            res,
            409,
            "already_exists",
            "an artifact with this name already exists on the workflow run",
          );
        const now = new Date();
        const expiresAt =
          typeof body.expires_at === "string" ? new Date(body.expires_at) : new Date(now.getTime() + RETENTION_MS);
        const artifact: Artifact = {
          id: ++lastId,
          name,
          job,
          mimeType: typeof body.mime_type === "string" ? body.mime_type : "application/zip",
          createdAt: now,
          expiresAt,
          expired: false,
          data: null,
          digest: "",
          blocks: new Map(),
          blob: null,
        };
        store.push(artifact);
        return json(res, 200, { ok: true, signed_upload_url: signedUrl(artifact, "cw") });
      }
      case "FinalizeArtifact": {
        const artifact = sameRun.find((a) => a.data === null);
        if (!artifact) return twirpError(res, 404, "not_found", `no artifact ${name} is being uploaded in this run`);
        if (artifact.blob === null)
          return twirpError(res, 400, "failed_precondition", `the content of ${name} was never uploaded`);
        if (String(body.size) !== String(artifact.blob.length))
          return twirpError(
            res,
            400,
            "invalid_argument",
            `size ${String(body.size)} does not match the ${artifact.blob.length} bytes uploaded`,
          );
        const digest = `sha256:${createHash("sha256").update(artifact.blob).digest("hex")}`;
        if (body.hash !== undefined && body.hash !== digest)
          return twirpError(
            res,
            400,
            "invalid_argument",
            `hash ${String(body.hash)} does not match the content uploaded`,
          );
        artifact.data = artifact.blob;
        artifact.digest = digest;
        artifact.blob = null;
        artifact.blocks.clear();
        return json(res, 200, { ok: true, artifact_id: String(artifact.id) });
      }
      default:
        return twirpError(res, 404, "bad_route", `no method ${url.pathname.slice(TWIRP.length)}`);
    }
  }

  /** The signed URLs: Put Block, Put Block List and Put Blob to upload, a whole or ranged read to download. */
  async function blob(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const id = gitea ? url.searchParams.get("artifactID") : url.pathname.slice(BLOBS.length);
    const artifact = store.find((a) => String(a.id) === id);
    const permission = gitea
      ? url.pathname.endsWith("UploadArtifact")
        ? "cw"
        : "r"
      : (url.searchParams.get("sp") ?? "");
    const writing = req.method === "PUT";
    if (!writing && req.method !== "GET" && req.method !== "HEAD") {
      await drain(req);
      return azureError(res, 405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
    }
    if (
      !artifact ||
      url.searchParams.get("sig") !== sign(artifact.id, permission) ||
      !permission.includes(writing ? "w" : "r")
    ) {
      await drain(req);
      return azureError(
        res,
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
      );
    }
    if (!writing) {
      await drain(req);
      if (!artifact.data || artifact.expired)
        return azureError(res, 404, "BlobNotFound", "The specified blob does not exist.");
      // Zipped artifacts download as <name>.zip; raw ones (skipArchive) under their own name.
      const file = artifact.mimeType === "application/zip" ? `${artifact.name}.zip` : artifact.name;
      return serveBytes(req, res, artifact.data, {
        ...azureHeaders(),
        "x-ms-blob-type": "BlockBlob",
        "content-disposition": `attachment; filename="${file}"; filename*=UTF-8''${encodeURIComponent(file)}`,
        "content-type": artifact.mimeType,
      });
    }
    if (artifact.data !== null) {
      await drain(req);
      return azureError(
        res,
        409,
        "BlobImmutableDueToPolicy",
        "This operation is not permitted as the blob is immutable due to a policy.",
      );
    }
    const comp = url.searchParams.get("comp");
    // Gitea answers its upload calls with a JSON string.
    const done = () =>
      gitea
        ? json(res, 201, comp === "blocklist" ? "created" : "appended")
        : void res.writeHead(201, azureHeaders()).end();
    if (comp === "blocklist") {
      const body = await readBody(req, 1024 * 1024);
      const ids = [...(body?.toString() ?? "").matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)].map(
        (m) => m[2] ?? "",
      );
      const blocks = ids.map((id) => artifact.blocks.get(id));
      if (blocks.some((b) => b === undefined))
        return azureError(res, 400, "InvalidBlockList", "The specified block list is invalid.");
      artifact.blob = Buffer.concat(blocks as Buffer[]);
      return done();
    }
    const body = await readBody(req, MAX_BYTES);
    if (body === null)
      return azureError(
        res,
        413,
        "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.",
      );
    if (comp === "block") {
      const blockId = url.searchParams.get("blockid");
      if (!blockId)
        return azureError(
          res,
          400,
          "MissingRequiredQueryParameter",
          "A query parameter that's mandatory for this request is not specified.",
        );
      artifact.blocks.set(blockId, body);
      return done();
    }
    if (req.headers["x-ms-blob-type"] !== "BlockBlob")
      return azureError(
        res,
        400,
        "MissingRequiredHeader",
        "An HTTP header that's mandatory for this request is not specified.",
      );
    artifact.blob = body;
    res.writeHead(201, azureHeaders()).end();
  }

  // --- reading other runs: the REST API --------------------------------------------------

  async function rest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    await drain(req);
    const auth = /^(?:token|bearer) (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const apiError = (status: number, message: string) =>
      json(res, status, {
        message,
        documentation_url: "https://docs.github.com/rest/actions/artifacts",
        status: String(status),
      });
    if (auth !== undefined && auth !== token && auth !== tokenWithoutActionsRead)
      return apiError(401, "Bad credentials");
    const m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/(?:runs\/(\d+)\/artifacts|artifacts(?:\/(\d+)(?:\/(zip))?)?)$/.exec(
      url.pathname,
    );
    // A private repository looks absent to whoever may not read it.
    if (
      !m ||
      req.method !== "GET" ||
      `${m[1]}/${m[2]}`.toLowerCase() !== repository.toLowerCase() ||
      auth === undefined
    )
      return apiError(404, "Not Found");
    if (auth !== token) return apiError(403, "Resource not accessible by integration");
    const [, , , runId, id, zip] = m;
    if (id !== undefined) {
      const artifact = finalized().find((a) => String(a.id) === id);
      if (!artifact) return apiError(404, "Not Found");
      if (!zip) return json(res, 200, describe(artifact));
      if (artifact.expired) return apiError(410, "Artifact has expired");
      return void res.writeHead(302, { location: signedUrl(artifact, "r"), "content-length": "0" }).end();
    }
    const name = url.searchParams.get("name");
    const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30) || 30);
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
    const matching = finalized()
      .filter((a) => (name === null || a.name === name) && (runId === undefined || String(a.job.runId) === runId))
      .sort((a, b) => b.id - a.id);
    json(res, 200, {
      total_count: matching.length,
      artifacts: matching.slice((page - 1) * perPage, page * perPage).map(describe),
    });
  }

  function describe(a: Artifact): Record<string, unknown> {
    const api = `${base()}/repos/${repository}/actions/artifacts/${a.id}`;
    return {
      id: a.id,
      node_id: Buffer.from(`Artifact${a.id}`).toString("base64"),
      name: a.name,
      size_in_bytes: a.data?.length ?? 0,
      url: api,
      archive_download_url: `${api}/zip`,
      expired: a.expired,
      digest: a.digest,
      created_at: a.createdAt.toISOString(),
      updated_at: a.createdAt.toISOString(),
      expires_at: a.expiresAt.toISOString(),
      workflow_run: {
        id: a.job.runId,
        repository_id: REPOSITORY_ID,
        head_repository_id: a.job.headRepositoryId,
        head_branch: "main",
        head_sha: "0".repeat(40),
      },
    };
  }

  // --- the results host: the cache server behind this one ---------------------------------

  function forward(req: IncomingMessage, res: ServerResponse, cache: CacheServer): void {
    const target = new URL(req.url ?? "/", cache.url);
    const headers = { ...req.headers, host: target.host };
    const presented = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (jobs.has(presented)) headers.authorization = `Bearer ${cache.env.ACTIONS_RUNTIME_TOKEN}`;
    const upstream = request(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }

  function jobEnv(given: ArtifactJob): Record<string, string> {
    if (!runBackendIds.has(given.runId)) runBackendIds.set(given.runId, gitea ? given.runId : randomUUID());
    const job: Job = {
      runId: Number(given.runId),
      runBackendId: runBackendIds.get(given.runId) as string,
      jobBackendId: gitea ? String(++lastJob) : randomUUID(),
      headRepositoryId: given.fork ? FORK_REPOSITORY_ID : REPOSITORY_ID,
    };
    const runtimeToken = mintToken(job, given.attempt ?? 1);
    jobs.set(runtimeToken, job);
    const cacheEnv = options.cache?.env ?? {};
    return {
      ...cacheEnv,
      ...(cacheEnv.ACTIONS_CACHE_URL ? { ACTIONS_CACHE_URL: `${base()}/` } : {}),
      ACTIONS_RESULTS_URL: `${base()}/`,
      ACTIONS_RUNTIME_TOKEN: runtimeToken,
      ...(gitea
        ? { GITHUB_SERVER_URL: cacheEnv.GITHUB_SERVER_URL ?? "https://gitea.example.com", GITEA_ACTIONS: "true" }
        : { GITHUB_SERVER_URL: "https://github.com", GITHUB_API_URL: base() }),
    };
  }

  /** A runtime token shaped like the runner's: `scp` names the job's workflow run and job backend ids. */
  function mintToken(job: Job, attempt: number): string {
    const now = Math.floor(Date.now() / 1000);
    const results = `Actions.Results:${job.runBackendId}:${job.jobBackendId}`;
    const claims = gitea
      ? {
          iat: now,
          nbf: now - 60,
          exp: now + 6 * 3600,
          scp: results,
          TaskID: Number(job.jobBackendId),
          RunID: job.runId,
          JobID: Number(job.jobBackendId),
          ac: "[]",
        }
      : {
          iat: now,
          nbf: now - 60,
          exp: now + 6 * 3600,
          scp: `Actions.GenericRead:${job.runBackendId} ${results} Actions.UploadArtifacts:${job.runBackendId}:${job.jobBackendId}`,
          attempt,
          ac: "[]",
        };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${encode({ typ: "JWT", alg: "HS256" })}.${encode(claims)}`;
    return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
  }

  const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    url: base(),
    token,
    tokenWithoutActionsRead,
    jobEnv,
    requests,
    artifacts: () =>
      finalized().map((a) => ({
        id: a.id,
        name: a.name,
        runId: a.job.runId,
        size: a.data?.length ?? 0,
        mimeType: a.mimeType,
        digest: a.digest,
        expired: a.expired,
      })),
    expire: (id) => {
      for (const a of store) if (a.id === id) a.expired = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
