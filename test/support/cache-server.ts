/**
 * Actions cache servers the tests own, for the real `@actions/cache` client:
 * - v1 (REST `_apis/artifactcache`) as Gitea and Forgejo serve it: keys lowercased,
 *   saving an existing key replaces it, the newest entry wins a restore;
 * - v2 (Twirp `CacheService` plus a blob endpoint for the signed upload and download
 *   URLs) as github.com serves it: keys kept as given and immutable.
 * Both match the exact key first, then prefixes in order, newest first, within the
 * entry's version (the client's hash of paths and compression). All in memory.
 */
import { randomBytes } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface CacheEntry {
  key: string;
  version: string;
  size: number;
  createdAt: number;
}

export interface CacheServer {
  url: string;
  /** What a runner sets so the client speaks this protocol to this server. */
  env: Record<string, string>;
  entries(): CacheEntry[];
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

interface Stored extends CacheEntry {
  id: number;
  data: Buffer | null;
  chunks: { start: number; data: Buffer }[];
}

const MAX_BYTES = 512 * 1024 * 1024;

export async function startCacheServer(options: { protocol: "v1" | "v2"; flavour?: "github" | "gitea" }): Promise<CacheServer> {
  const gitea = options.protocol === "v1" && options.flavour !== "github";
  const store: Stored[] = [];
  const requests: { method: string; path: string }[] = [];
  let nextId = 1;
  let clock = 0;
  const committed = () => store.filter((e) => e.data !== null);

  const normal = (key: string) => (gitea ? key.toLowerCase() : key);
  const find = (keys: string[], version: string): Stored | undefined => {
    const candidates = committed().filter((e) => e.version === version).sort((a, b) => b.createdAt - a.createdAt);
    for (const key of keys.map(normal)) {
      const exact = candidates.find((e) => e.key === key);
      if (exact) return exact;
    }
    for (const key of keys.map(normal)) {
      const prefixed = candidates.find((e) => e.key.startsWith(key));
      if (prefixed) return prefixed;
    }
    return undefined;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    requests.push({ method: req.method ?? "", path: url.pathname });
    try {
      const body = await readBody(req);
      if (url.pathname.startsWith("/blob/")) return blob(req, res, url, body);
      if (options.protocol === "v1") return v1(req, res, url, body);
      return v2(res, url, body);
    } catch (error) {
      json(res, 500, { message: String(error) });
    }
  });

  function v1(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): void {
    const path = url.pathname.replace(/^\/_apis\/artifactcache\//, "");
    if (req.method === "GET" && path === "cache") {
      const keys = (url.searchParams.get("keys") ?? "").split(",").filter(Boolean);
      const hit = find(keys, url.searchParams.get("version") ?? "");
      if (!hit) return void res.writeHead(204).end();
      return json(res, 200, { cacheKey: hit.key, scope: "refs/heads/main", creationTime: new Date(hit.createdAt).toISOString(), archiveLocation: `${base()}/blob/${hit.id}` });
    }
    if (req.method === "POST" && path === "caches") {
      const { key, version } = JSON.parse(body.toString()) as { key: string; version: string };
      const existing = committed().find((e) => e.key === normal(key) && e.version === version);
      if (existing && !gitea) return json(res, 409, { message: `Cache already exists. Scope: refs/heads/main, Key: ${key}, Version: ${version}` });
      const entry: Stored = { id: nextId++, key: normal(key), version, size: 0, createdAt: 0, data: null, chunks: [] };
      store.push(entry);
      return json(res, 201, { cacheId: entry.id });
    }
    const id = /^caches\/(\d+)$/.exec(path)?.[1];
    const entry = store.find((e) => e.id === Number(id));
    if (!entry) return json(res, 404, { message: "no such cache" });
    if (req.method === "PATCH") {
      const start = Number(/bytes (\d+)-/.exec(req.headers["content-range"] ?? "")?.[1] ?? 0);
      entry.chunks.push({ start, data: body });
      return void res.writeHead(204).end();
    }
    if (req.method === "POST") {
      const data = assemble(entry.chunks);
      if (data.length > MAX_BYTES) return json(res, 400, { message: "cache too large" });
      commit(entry, data);
      return void res.writeHead(204).end();
    }
    json(res, 405, { message: "method not allowed" });
  }

  function v2(res: ServerResponse, url: URL, body: Buffer): void {
    const method = url.pathname.replace(/^\/twirp\/github\.actions\.results\.api\.v1\.CacheService\//, "");
    const request = JSON.parse(body.toString() || "{}") as Record<string, unknown>;
    const field = (snake: string, camel: string) => request[snake] ?? request[camel];
    const key = String(field("key", "key") ?? "");
    const version = String(field("version", "version") ?? "");
    switch (method) {
      case "CreateCacheEntry": {
        // github.com's keys are immutable: a second save of a key is refused.
        if (committed().some((e) => e.key === key && e.version === version) || store.some((e) => e.key === key && e.version === version && e.data === null)) {
          return json(res, 409, { code: "already_exists", msg: "cache entry with the same key, version, and scope already exists" });
        }
        const entry: Stored = { id: nextId++, key, version, size: 0, createdAt: 0, data: null, chunks: [] };
        store.push(entry);
        return json(res, 200, { ok: true, signed_upload_url: `${base()}/blob/devstoreaccount1/cache/${entry.id}?sig=${randomBytes(6).toString("hex")}` });
      }
      case "FinalizeCacheEntryUpload": {
        const entry = store.find((e) => e.key === key && e.version === version && e.data === null && e.chunks.length > 0);
        if (!entry) return json(res, 404, { code: "not_found", msg: "no upload for that key" });
        commit(entry, assemble(entry.chunks));
        return json(res, 200, { ok: true, entry_id: String(entry.id) });
      }
      case "GetCacheEntryDownloadURL": {
        const restoreKeys = (field("restore_keys", "restoreKeys") as string[] | undefined) ?? [];
        const hit = find([key, ...restoreKeys], version);
        if (!hit) return json(res, 200, { ok: false, signed_download_url: "", matched_key: "" });
        return json(res, 200, { ok: true, signed_download_url: `${base()}/blob/devstoreaccount1/cache/${hit.id}?sig=read`, matched_key: hit.key });
      }
      default:
        return json(res, 404, { code: "bad_route", msg: `no method ${method}` });
    }
  }

  /** The signed URLs: Azure Blob's Put Blob / Put Block / Put Block List, and plain or ranged GETs. */
  function blob(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): void {
    const id = Number(url.pathname.split("/").pop());
    const entry = store.find((e) => e.id === id);
    if (!entry) return json(res, 404, { message: "no such blob" });
    if (req.method === "PUT") {
      const comp = url.searchParams.get("comp");
      if (comp === "block") {
        entry.chunks.push({ start: entry.chunks.reduce((n, c) => n + c.data.length, 0), data: body });
      } else if (comp !== "blocklist") {
        entry.chunks = [{ start: 0, data: body }];
      }
      res.writeHead(201, { etag: `"${id}"`, "last-modified": new Date().toUTCString(), "x-ms-request-id": randomBytes(8).toString("hex"), "x-ms-version": "2023-11-03" });
      return void res.end();
    }
    if (entry.data === null) return json(res, 404, { message: "not committed" });
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? "");
    const data = range ? entry.data.subarray(Number(range[1]), range[2] ? Number(range[2]) + 1 : undefined) : entry.data;
    res.writeHead(range ? 206 : 200, {
      "content-length": data.length,
      "content-type": "application/octet-stream",
      ...(range ? { "content-range": `bytes ${range[1]}-${Number(range[1]) + data.length - 1}/${entry.data.length}` } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : data);
  }

  function commit(entry: Stored, data: Buffer): void {
    if (gitea) {
      // Gitea keeps one entry per key: the newest save replaces the older one.
      for (const old of committed().filter((e) => e.key === entry.key && e.version === entry.version)) store.splice(store.indexOf(old), 1);
    }
    entry.data = data;
    entry.size = data.length;
    entry.createdAt = Date.now() * 1000 + clock++;
    entry.chunks = [];
  }

  const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = base();
  const env: Record<string, string> =
    options.protocol === "v1"
      ? {
          ACTIONS_CACHE_URL: `${url}/`,
          ACTIONS_RUNTIME_TOKEN: "test-runtime-token",
          ...(gitea ? { GITHUB_SERVER_URL: "https://gitea.example.test", GITEA_ACTIONS: "true" } : { GITHUB_SERVER_URL: "https://github.com" }),
        }
      : {
          ACTIONS_RESULTS_URL: `${url}/`,
          ACTIONS_CACHE_SERVICE_V2: "true",
          ACTIONS_RUNTIME_TOKEN: "test-runtime-token",
          GITHUB_SERVER_URL: "https://github.com",
        };
  return {
    url,
    env,
    requests,
    entries: () => committed().map(({ key, version, size, createdAt }) => ({ key, version, size, createdAt })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function assemble(chunks: { start: number; data: Buffer }[]): Buffer {
  const ordered = [...chunks].sort((a, b) => a.start - b.start);
  return Buffer.concat(ordered.map((c) => c.data));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BYTES) throw new Error("request too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
