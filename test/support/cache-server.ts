/**
 * In-process Actions cache servers the tests own, spoken to by the real `@actions/cache`
 * client. Node built-ins only, everything in memory, bounded by `maxBytes`.
 * - v1, REST `_apis/artifactcache`. Flavour "gitea" (the default) is the server Gitea's and
 *   Forgejo's runners embed: keys lowercased, a second save of a key replaces the first,
 *   archives served from `_apis/artifactcache/artifacts/<id>`. Flavour "github" is
 *   github.com's retired v1 service: keys as given and immutable, archives behind signed URLs.
 * - v2, github.com's Twirp `CacheService` plus the Azure Blob endpoint its signed URLs name
 *   (Put Blob, Put Block, Put Block List, ranged reads): keys as given and immutable.
 * Every flavour restores the way the services do: for each key in order (the primary key,
 * then the restore keys) an exact match, else the newest entry the key prefixes, among
 * entries of the requested version (the client's hash of the paths and the compression).
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface CacheEntry {
  key: string;
  version: string;
  size: number;
  /** Milliseconds since the epoch at which the save was reserved. */
  createdAt: number;
}

export interface CacheServerOptions {
  protocol: "v1" | "v2";
  /** Whose server to imitate. v1 defaults to "gitea"; v2 exists only as "github". */
  flavour?: "github" | "gitea";
  /** The most bytes held at once, stored archives and uploads in progress together. */
  maxBytes?: number;
  /**
   * The address to listen on and to name in every URL (default 127.0.0.1). A job
   * container reaches the host at an address of the host's Docker bridge.
   */
  host?: string;
}

export interface CacheServer {
  url: string;
  /** Exactly what a runner sets so that the client speaks this protocol to this server. */
  env: Record<string, string>;
  entries(): CacheEntry[];
  /** Drops every stored entry whose key starts with `prefix`, as GitHub evicts entries unused for 7 days; returns how many. */
  evict(prefix: string): number;
  /** Every request in arrival order; `path` is the request target, query included. */
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

interface Entry {
  /** Also the reservation order: ties in `createdAt` must not make "newest" ambiguous. */
  id: number;
  key: string;
  version: string;
  createdAt: number;
  /** The archive once committed (v1) or finalized (v2); null while it is being uploaded. */
  data: Buffer | null;
  /** v1 uploads: PATCHed chunks by offset. */
  chunks: Map<number, Buffer>;
  /** v2 uploads: staged blocks by id, and the blob as Put Blob or Put Block List last wrote it. */
  blocks: Map<string, Buffer>;
  blob: Buffer | null;
}

const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;
const MAX_JSON_BYTES = 1024 * 1024;
const SCOPE = "refs/heads/main";
const V1 = "/_apis/artifactcache/";
const TWIRP = "/twirp/github.actions.results.api.v1.CacheService/";
// Path-style blob URLs, as Azurite serves them: the SDK reads /<account>/<container>/<blob>.
const BLOBS = "/devstoreaccount1/actions-cache/";
const GITEA_SERVER_URL = "https://gitea.example.com";

export async function startCacheServer(options: CacheServerOptions): Promise<CacheServer> {
  const flavour = options.flavour ?? (options.protocol === "v1" ? "gitea" : "github");
  if (options.protocol === "v2" && flavour === "gitea") {
    throw new Error("Gitea and Forgejo serve only the v1 cache protocol; start a v1 server for the gitea flavour");
  }
  const gitea = flavour === "gitea";
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const secret = randomBytes(32);
  const token = runtimeToken(gitea, secret);
  const store: Entry[] = [];
  const requests: { method: string; path: string }[] = [];
  let lastId = 0;

  const normal = (key: string) => (gitea ? key.toLowerCase() : key);
  const held = () =>
    store.reduce(
      (n, e) => n + (e.data?.length ?? 0) + (e.blob?.length ?? 0) + sum(e.chunks.values()) + sum(e.blocks.values()),
      0,
    );
  const available = () => Math.max(0, maxBytes - held());
  const byId = (id: string | undefined) => store.find((e) => String(e.id) === id);
  const pending = (key: string, version: string) =>
    store.find((e) => e.data === null && e.key === key && e.version === version);
  const committed = (key: string, version: string) =>
    store.find((e) => e.data !== null && e.key === key && e.version === version);

  function reserve(key: string, version: string): Entry {
    const entry: Entry = {
      id: ++lastId,
      key,
      version,
      createdAt: Date.now(),
      data: null,
      chunks: new Map(),
      blocks: new Map(),
      blob: null,
    };
    store.push(entry);
    return entry;
  }

  function commit(entry: Entry, data: Buffer): void {
    entry.data = data;
    entry.chunks.clear();
    entry.blocks.clear();
    entry.blob = null;
    // Gitea keeps only the newest entry of a key and version; its gc drops the rest.
    if (gitea) {
      const same = store.filter((e) => e.data !== null && e.key === entry.key && e.version === entry.version);
      const newest = Math.max(...same.map((e) => e.id));
      for (const old of same.filter((e) => e.id !== newest)) store.splice(store.indexOf(old), 1);
    }
  }

  function lookup(keys: string[], version: string): Entry | undefined {
    const newestFirst = store.filter((e) => e.data !== null && e.version === version).sort((a, b) => b.id - a.id);
    for (const key of keys.map(normal).filter(Boolean)) {
      const hit = newestFirst.find((e) => e.key === key) ?? newestFirst.find((e) => e.key.startsWith(key));
      if (hit) return hit;
    }
    return undefined;
  }

  const sign = (id: number, permission: string) =>
    createHmac("sha256", secret).update(`${id}:${permission}`).digest("base64url");
  const signedUrl = (entry: Entry, permission: "r" | "cw") =>
    `${base()}${BLOBS}${entry.id}?sv=2025-01-05&sr=b&sp=${permission}&sig=${sign(entry.id, permission)}`;

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "" });
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(500, { "content-type": "text/plain" }).end(`cache server: ${String(error)}`);
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://cache.invalid");
    if (url.pathname.startsWith(BLOBS)) return blob(req, res, url);
    // The client downloads archives with a bare HTTP client: no runtime token on these.
    if (gitea && url.pathname.startsWith(`${V1}artifacts/`)) return giteaArchive(req, res, url);
    // Gitea's embedded server never reads the runtime token; checking it anyway catches a
    // job environment that lost it, which github.com would refuse.
    if (options.protocol === "v1" && url.pathname.startsWith(V1)) {
      if (req.headers.authorization !== `Bearer ${token}`)
        return v1Error(res, 401, "the runtime token is missing or not the one this runner issued");
      return v1(req, res, url);
    }
    if (options.protocol === "v2" && url.pathname.startsWith("/twirp/")) {
      if (req.headers.authorization !== `Bearer ${token}`)
        return twirpError(
          res,
          401,
          "unauthenticated",
          "the runtime token is missing or not the one this runner issued",
        );
      return v2(req, res, url);
    }
    await drain(req);
    res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found\n");
  }

  // --- v1 ---------------------------------------------------------------------------------

  // Gitea answers errors as {"error": …}; github.com's v1 service as an Azure DevOps exception.
  function v1Error(res: ServerResponse, status: number, message: string, typeKey = "ArtifactCacheException"): void {
    if (gitea) return json(res, status, { error: message });
    json(res, status, {
      $id: "1",
      innerException: null,
      message,
      typeName: `Microsoft.Azure.DevOps.PipelineCache.WebApi.${typeKey}, Microsoft.Azure.DevOps.PipelineCache.WebApi`,
      typeKey,
      errorCode: 0,
      eventId: 3000,
    });
  }

  async function v1(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const resource = url.pathname.slice(V1.length);
    if (req.method === "GET" && resource === "cache") {
      const hit = lookup((url.searchParams.get("keys") ?? "").split(","), url.searchParams.get("version") ?? "");
      if (!hit?.data) return void res.writeHead(204).end();
      if (gitea)
        return json(res, 200, {
          result: "hit",
          archiveLocation: `${base()}${V1}artifacts/${hit.id}`,
          cacheKey: hit.key,
        });
      return json(res, 200, {
        scope: SCOPE,
        cacheKey: hit.key,
        cacheVersion: hit.version,
        creationTime: new Date(hit.createdAt).toISOString(),
        archiveLocation: signedUrl(hit, "r"),
      });
    }
    if (req.method === "GET" && resource === "caches" && !gitea) {
      // Only asked for diagnostics after a miss in debug mode; Gitea has no such route.
      const key = url.searchParams.get("key") ?? "";
      const similar = store.filter((e) => e.data !== null && e.key === key);
      return json(res, 200, {
        totalCount: similar.length,
        artifactCaches: similar.map((e) => ({
          cacheKey: e.key,
          cacheVersion: e.version,
          scope: SCOPE,
          creationTime: new Date(e.createdAt).toISOString(),
        })),
      });
    }
    if (req.method === "POST" && resource === "caches") {
      const request = await readJson(req);
      const key = typeof request?.key === "string" ? normal(request.key) : "";
      const version = typeof request?.version === "string" ? request.version : "";
      if (!key || !version) return v1Error(res, 400, "a reservation needs a key and a version");
      const size = typeof request?.cacheSize === "number" ? request.cacheSize : 0;
      if (size > available())
        return v1Error(
          res,
          400,
          `Cache size of ~${Math.round(size / (1024 * 1024))} MB (${size} B) is over the data cap limit, not saving cache.`,
        );
      if (!gitea && (committed(key, version) ?? pending(key, version))) {
        return v1Error(
          res,
          409,
          `Cache already exists. Scope: ${SCOPE}, Key: ${key}, Version: ${version}`,
          "ArtifactCacheAlreadyExistsException",
        );
      }
      return json(res, gitea ? 200 : 201, { cacheId: reserve(key, version).id });
    }
    const id = /^caches\/(\d+)$/.exec(resource)?.[1];
    if (id === undefined || (req.method !== "PATCH" && req.method !== "POST")) {
      await drain(req);
      return v1Error(res, 404, `no route ${req.method} ${url.pathname}`);
    }
    const entry = byId(id);
    if (!entry) {
      await drain(req);
      return v1Error(res, 404, `cache ${id}: not reserved`);
    }
    if (entry.data !== null) {
      await drain(req);
      return v1Error(res, 400, `cache ${id} "${entry.key}": already complete`);
    }
    if (req.method === "PATCH") {
      const range = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(req.headers["content-range"] ?? "");
      const body = await readBody(req, available());
      if (!range)
        return v1Error(
          res,
          400,
          `cache ${id}: Content-Range "${req.headers["content-range"] ?? ""}" is not "bytes start-end/*"`,
        );
      if (body === null || body.length > available())
        return v1Error(res, 413, `cache ${id}: the chunk does not fit in the server's ${maxBytes} bytes`);
      const start = Number(range[1]);
      if (body.length !== Number(range[2]) - start + 1)
        return v1Error(
          res,
          400,
          `cache ${id}: Content-Range ${range[0]} does not match a body of ${body.length} bytes`,
        );
      entry.chunks.set(start, body);
      return gitea ? json(res, 200, {}) : void res.writeHead(204).end();
    }
    const request = await readJson(req);
    const data = assemble(entry.chunks);
    const size = typeof request?.size === "number" ? request.size : -1;
    // Gitea writes what arrived and only then compares it with the announced size.
    if (data === null || data.length !== size)
      return v1Error(res, gitea ? 500 : 400, `broken file: ${data?.length ?? "chunks with gaps"} != ${size}`);
    commit(entry, data);
    return gitea ? json(res, 200, {}) : void res.writeHead(204).end();
  }

  async function giteaArchive(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    await drain(req);
    const id = url.pathname.slice(`${V1}artifacts/`.length);
    const entry = byId(id);
    if (req.method !== "GET" && req.method !== "HEAD") return v1Error(res, 405, `${req.method} is not allowed here`);
    if (!entry?.data) return v1Error(res, 404, `cache ${id}: not reserved`);
    serveBytes(req, res, entry.data, {});
  }

  // --- v2 ---------------------------------------------------------------------------------

  async function v2(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== "POST" || !url.pathname.startsWith(TWIRP)) {
      await drain(req);
      return twirpError(res, 404, "bad_route", `no handler for ${req.method} ${url.pathname}`);
    }
    const request = await readJson(req);
    if (request === null) return twirpError(res, 400, "malformed", "the request body is not a JSON object");
    const key = typeof request.key === "string" ? request.key : "";
    const version = typeof request.version === "string" ? request.version : "";
    if (!key || !version) return twirpError(res, 400, "invalid_argument", "key and version are required");
    switch (url.pathname.slice(TWIRP.length)) {
      case "CreateCacheEntry": {
        // Immutable keys: a second save of a key (and version) is refused, even mid-upload.
        if (committed(key, version) ?? pending(key, version))
          return twirpError(
            res,
            409,
            "already_exists",
            "cache entry with the same key, version, and scope already exists",
          );
        return json(res, 200, { ok: true, signed_upload_url: signedUrl(reserve(key, version), "cw") });
      }
      case "FinalizeCacheEntryUpload": {
        const entry = pending(key, version);
        if (!entry) return twirpError(res, 404, "not_found", `no cache entry for key ${key} is being uploaded`);
        if (entry.blob === null)
          return twirpError(res, 400, "failed_precondition", `the archive for key ${key} was never uploaded`);
        if (String(entry.blob.length) !== String(request.size_bytes)) {
          return twirpError(
            res,
            400,
            "invalid_argument",
            `size_bytes ${String(request.size_bytes)} does not match the ${entry.blob.length} bytes uploaded`,
          );
        }
        commit(entry, entry.blob);
        return json(res, 200, { ok: true, entry_id: String(entry.id) });
      }
      case "GetCacheEntryDownloadURL": {
        const restoreKeys = Array.isArray(request.restore_keys)
          ? request.restore_keys.filter((k): k is string => typeof k === "string")
          : [];
        const hit = lookup([key, ...restoreKeys], version);
        if (!hit) return json(res, 200, { ok: false, signed_download_url: "", matched_key: "" });
        return json(res, 200, { ok: true, signed_download_url: signedUrl(hit, "r"), matched_key: hit.key });
      }
      default:
        return twirpError(res, 404, "bad_route", `no method ${url.pathname.slice(TWIRP.length)}`);
    }
  }

  /** The signed URLs: Put Blob, Put Block, Put Block List, and whole or ranged reads. */
  async function blob(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const entry = byId(url.pathname.slice(BLOBS.length));
    const permission = url.searchParams.get("sp") ?? "";
    const writing = req.method === "PUT";
    if (!writing && req.method !== "GET" && req.method !== "HEAD") {
      await drain(req);
      return azureError(res, 405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
    }
    if (!entry || url.searchParams.get("sig") !== sign(entry.id, permission)) {
      await drain(req);
      return azureError(
        res,
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
      );
    }
    if (!permission.includes(writing ? "w" : "r")) {
      await drain(req);
      return azureError(
        res,
        403,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission.",
      );
    }
    if (!writing) {
      await drain(req);
      if (!entry.data) return azureError(res, 404, "BlobNotFound", "The specified blob does not exist.");
      return serveBytes(req, res, entry.data, { "x-ms-blob-type": "BlockBlob", ...azureHeaders() });
    }
    if (entry.data !== null) {
      await drain(req);
      return azureError(
        res,
        409,
        "BlobImmutableDueToPolicy",
        "This operation is not permitted as the blob is immutable due to a policy.",
      );
    }
    const comp = url.searchParams.get("comp");
    if (comp === "blocklist") {
      const body = await readBody(req, MAX_JSON_BYTES);
      const ids = [...(body?.toString() ?? "").matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)].map(
        (m) => m[2] ?? "",
      );
      const blocks = ids.map((id) => entry.blocks.get(id));
      if (blocks.some((b) => b === undefined))
        return azureError(res, 400, "InvalidBlockList", "The specified block list is invalid.");
      entry.blob = Buffer.concat(blocks as Buffer[]);
      entry.blocks.clear();
      return void res.writeHead(201, azureHeaders()).end();
    }
    const body = await readBody(req, available());
    // Checked again once read: other uploads may have filled the budget meanwhile.
    if (body === null || body.length > available())
      return azureError(
        res,
        413,
        "RequestBodyTooLarge",
        `The request body is too large and exceeds the maximum permissible limit.`,
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
      entry.blocks.set(blockId, body);
      return void res.writeHead(201, azureHeaders()).end();
    }
    if (req.headers["x-ms-blob-type"] !== "BlockBlob")
      return azureError(
        res,
        400,
        "MissingRequiredHeader",
        "An HTTP header that's mandatory for this request is not specified.",
      );
    entry.blob = body;
    entry.blocks.clear();
    res.writeHead(201, azureHeaders()).end();
  }

  const host = options.host ?? "127.0.0.1";
  const base = () => `http://${host}:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const url = base();
  const env: Record<string, string> =
    options.protocol === "v2"
      ? {
          ACTIONS_RESULTS_URL: `${url}/`,
          ACTIONS_CACHE_SERVICE_V2: "true",
          ACTIONS_RUNTIME_TOKEN: token,
          GITHUB_SERVER_URL: "https://github.com",
        }
      : // The client appends `_apis/artifactcache/…` to ACTIONS_CACHE_URL as a string: the slash matters.
        {
          ACTIONS_CACHE_URL: `${url}/`,
          ACTIONS_RUNTIME_TOKEN: token,
          ...(gitea
            ? { GITHUB_SERVER_URL: GITEA_SERVER_URL, GITEA_ACTIONS: "true" }
            : { GITHUB_SERVER_URL: "https://github.com" }),
        };
  return {
    url,
    env,
    requests,
    entries: () =>
      store
        .filter((e) => e.data !== null)
        .map((e) => ({ key: e.key, version: e.version, size: e.data?.length ?? 0, createdAt: e.createdAt })),
    evict: (prefix) => {
      const gone = store.filter((e) => e.data !== null && e.key.startsWith(normal(prefix)));
      for (const entry of gone) store.splice(store.indexOf(entry), 1);
      return gone.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A runtime token shaped like the runner's: a signed JWT whose `scp` carries
 * `Actions.Results:<workflow run backend id>:<job run backend id>`, which the toolkit's
 * results clients decode; github.com uses GUIDs, Gitea numeric run and job ids.
 */
function runtimeToken(gitea: boolean, secret: Buffer): string {
  const now = Math.floor(Date.now() / 1000);
  const times = { iat: now, nbf: now - 60, exp: now + 6 * 3600 };
  const claims = gitea
    ? {
        ...times,
        scp: "Actions.Results:17:42",
        TaskID: 42,
        RunID: 17,
        JobID: 42,
        ac: JSON.stringify([{ Scope: SCOPE, Permission: 3 }]),
      }
    : (() => {
        const run = randomUUID();
        const job = randomUUID();
        return {
          ...times,
          nameid: randomUUID(),
          scp: `Actions.GenericRead:${run} Actions.Results:${run}:${job} Actions.UploadArtifacts:${run}:${job}`,
          IdentityTypeClaim: "System:ServiceIdentity",
          ac: JSON.stringify([{ Scope: SCOPE, Permission: 3 }]),
          iss: "vstoken.actions.githubusercontent.com",
          aud: `vso:${run}`,
        };
      })();
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${encode({ typ: "JWT", alg: "HS256" })}.${encode(claims)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

/** Chunks in offset order, or null when they leave a gap or overlap. */
function assemble(chunks: Map<number, Buffer>): Buffer | null {
  const ordered = [...chunks].sort(([a], [b]) => a - b);
  let next = 0;
  for (const [start, data] of ordered) {
    if (start !== next) return null;
    next += data.length;
  }
  return Buffer.concat(ordered.map(([, data]) => data));
}

function sum(buffers: Iterable<Buffer>): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

export function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  data: Buffer,
  headers: Record<string, string>,
): void {
  // The Azure SDK asks with x-ms-range, plain HTTP clients with Range.
  const asked = req.headers["x-ms-range"] ?? req.headers.range;
  const range = /^bytes=(\d+)-(\d*)$/.exec(typeof asked === "string" ? asked : "");
  const start = range ? Number(range[1]) : 0;
  const end = range?.[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
  if (range && start >= data.length) {
    return void res.writeHead(416, { "content-range": `bytes */${data.length}` }).end();
  }
  const body = data.subarray(start, end + 1);
  res.writeHead(range ? 206 : 200, {
    "content-type": "application/octet-stream",
    ...headers,
    "content-length": String(body.length),
    "accept-ranges": "bytes",
    ...(range ? { "content-range": `bytes ${start}-${end}/${data.length}` } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * The body, or null when it is longer than `limit`. An oversized body is still read to
 * the end so the client gets the answer instead of a reset connection, which it would retry.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
    else chunks.length = 0;
  }
  return size > limit ? null : Buffer.concat(chunks);
}

export async function drain(req: IncomingMessage): Promise<void> {
  await readBody(req, 0);
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const body = await readBody(req, MAX_JSON_BYTES);
  try {
    const value: unknown = JSON.parse(body?.toString() || "{}");
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
    })
    .end(text);
}

export function twirpError(res: ServerResponse, status: number, code: string, msg: string): void {
  json(res, status, { code, msg });
}

export function azureHeaders(): Record<string, string> {
  return {
    "x-ms-request-id": randomUUID(),
    "x-ms-version": "2025-01-05",
    date: new Date().toUTCString(),
    etag: `"0x${randomBytes(8).toString("hex").toUpperCase()}"`,
    "last-modified": new Date().toUTCString(),
  };
}

export function azureError(res: ServerResponse, status: number, code: string, message: string): void {
  const requestId = randomUUID();
  const text = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
  res
    .writeHead(status, {
      "content-type": "application/xml",
      "content-length": String(Buffer.byteLength(text)),
      "x-ms-error-code": code,
      "x-ms-request-id": requestId,
      "x-ms-version": "2025-01-05",
    })
    .end(text);
}
