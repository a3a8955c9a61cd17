// ClientHello parsing on real handshakes (captured from Node's own TLS client
// against a loopback server that only records bytes), the same bytes cut into
// pieces and records, synthetic hellos for the edge cases a real client never
// sends, and random damage that must never make the parser throw.
import { createServer, type AddressInfo, type Server } from "node:net";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ClientHelloResult, MAX_CLIENT_HELLO_BYTES, parseClientHello } from "../../src/gate/sni.js";

let recorder: Server;
let port = 0;
const captures: Array<(bytes: Buffer) => void> = [];

beforeAll(async () => {
  recorder = createServer((socket) => {
    let bytes = Buffer.alloc(0);
    const deliver = captures.shift()!;
    socket.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (parseClientHello(bytes).kind !== "incomplete") {
        socket.destroy();
        deliver(bytes);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => recorder.listen(0, "127.0.0.1", resolve));
  port = (recorder.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => recorder.close(() => resolve()));
});

/** The first flight Node's TLS client sends with `options`. */
function captureHello(options: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve) => {
    captures.push(resolve);
    const socket = tls.connect({ host: "127.0.0.1", port, ...options });
    socket.on("error", () => {});
  });
}

/** One handshake message's bytes re-framed into TLS records of at most `size` bytes each. */
function reframe(records: Buffer, size: number): Buffer {
  const handshake: Buffer[] = [];
  for (let offset = 0; offset < records.length;) {
    const length = records.readUInt16BE(offset + 3);
    handshake.push(records.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  const message = Buffer.concat(handshake);
  const out: Buffer[] = [];
  for (let offset = 0; offset < message.length; offset += size) {
    const fragment = message.subarray(offset, offset + size);
    out.push(Buffer.from([22, 3, 1, fragment.length >> 8, fragment.length & 0xff]), fragment);
  }
  return Buffer.concat(out);
}

function u16(value: number): Buffer {
  return Buffer.from([value >> 8, value & 0xff]);
}

function vector16(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u16(body.length), body]);
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vector16(body)]);
}

function serverNameExtension(...names: Array<[number, string]>): Buffer {
  return extension(
    0,
    vector16(
      ...names.map(([type, name]) => Buffer.concat([Buffer.from([type]), vector16(Buffer.from(name, "latin1"))])),
    ),
  );
}

/** A minimal ClientHello in one or more records, with exactly `extensions` (or none when null). */
function syntheticHello(extensions: Buffer[] | null, options: { recordSize?: number; trailing?: Buffer } = {}): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    vector16(Buffer.from([0x13, 0x01])),
    Buffer.from([1, 0]),
    extensions === null ? Buffer.alloc(0) : vector16(...extensions),
  ]);
  const message = Buffer.concat([
    Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]),
    body,
    options.trailing ?? Buffer.alloc(0),
  ]);
  const size = options.recordSize ?? 16_384;
  const out: Buffer[] = [];
  for (let offset = 0; offset < message.length; offset += size) {
    const fragment = message.subarray(offset, offset + size);
    out.push(Buffer.from([22, 3, 1, fragment.length >> 8, fragment.length & 0xff]), fragment);
  }
  return Buffer.concat(out);
}

const hellos: Record<string, Buffer> = {};

beforeAll(async () => {
  hellos.named = await captureHello({ servername: "allowed.test" });
  hellos.upper = await captureHello({ servername: "Allowed.TEST" });
  hellos.tls12 = await captureHello({ servername: "allowed.test", maxVersion: "TLSv1.2" });
  hellos.alpn = await captureHello({ servername: "api.allowed.test", ALPNProtocols: ["h2", "http/1.1"] });
  hellos.unnamed = await captureHello({});
});

describe("real ClientHellos", () => {
  test.each([
    ["named", "allowed.test"],
    ["upper", "Allowed.TEST"],
    ["tls12", "allowed.test"],
    ["alpn", "api.allowed.test"],
  ])("the %s hello names %s", (which, name) => {
    expect(parseClientHello(hellos[which]!)).toEqual({ kind: "hello", serverName: name });
  });

  test("a hello to an IP address carries no SNI", () => {
    expect(parseClientHello(hellos.unnamed!)).toEqual({ kind: "hello", serverName: undefined });
  });

  test("every proper prefix is incomplete, never a verdict", () => {
    const hello = hellos.named!;
    for (let length = 0; length < hello.length; length++) {
      expect(parseClientHello(hello.subarray(0, length)).kind, `prefix of ${length} bytes`).toBe("incomplete");
    }
  });

  test.each([1, 7, 64, 200, 512])("the same hello split into %i-byte records still names its host", (size) => {
    const split = reframe(hellos.named!, size);
    expect(split.length).toBeGreaterThan(hellos.named!.length);
    expect(parseClientHello(split)).toEqual({ kind: "hello", serverName: "allowed.test" });
    for (let length = 0; length < split.length; length += Math.max(1, Math.floor(split.length / 50))) {
      expect(parseClientHello(split.subarray(0, length)).kind).toBe("incomplete");
    }
  });
});

describe("synthetic ClientHellos", () => {
  test("a hello larger than one record, spanning several full 16 KiB records", () => {
    const padding = extension(21, Buffer.alloc(40_000));
    const hello = syntheticHello([padding, serverNameExtension([0, "big.test"])]);
    expect(hello.length).toBeGreaterThan(2 * 16_384);
    expect(parseClientHello(hello)).toEqual({ kind: "hello", serverName: "big.test" });
  });

  test("a hello with no extensions block has no SNI", () => {
    expect(parseClientHello(syntheticHello(null))).toEqual({ kind: "hello", serverName: undefined });
  });

  test("a name type other than host_name is skipped", () => {
    expect(parseClientHello(syntheticHello([serverNameExtension([7, "other"], [0, "real.test"])]))).toEqual({
      kind: "hello",
      serverName: "real.test",
    });
  });

  test.each<[string, Buffer, string]>([
    ["plaintext HTTP", Buffer.from("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"), "did not start a TLS handshake"],
    ["an SSH banner", Buffer.from("SSH-2.0-OpenSSH_9.2\r\n"), "did not start a TLS handshake"],
    ["one plaintext byte", Buffer.from("G"), "did not start a TLS handshake"],
    ["an SSLv2 hello", Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]), "did not start a TLS handshake"],
    ["an application-data record", Buffer.from([23, 3, 3, 0, 1, 0]), "did not start a TLS handshake"],
    ["a record that is not version 3", Buffer.from([22, 2, 0]), "not TLS"],
    ["an empty record", Buffer.from([22, 3, 1, 0, 0]), "empty handshake record"],
    ["a record over 16 KiB", Buffer.from([22, 3, 1, 0x40, 0x01]), "longer than 16 KiB"],
    ["a ServerHello", Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0]), "not a ClientHello"],
    [
      "a hello over the cap",
      Buffer.from([22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x00]),
      `longer than ${MAX_CLIENT_HELLO_BYTES}`,
    ],
    ["two host names", syntheticHello([serverNameExtension([0, "a.test"], [0, "b.test"])]), "two hosts"],
    ["an empty host name", syntheticHello([serverNameExtension([0, ""])]), "empty"],
    ["an empty server_name list", syntheticHello([extension(0, vector16())]), "list is empty"],
    ["an empty server_name extension", syntheticHello([extension(0, Buffer.alloc(0))]), "shorter"],
    ["only other name types", syntheticHello([serverNameExtension([1, "x"])]), "no host name"],
    [
      "a repeated extension",
      syntheticHello([serverNameExtension([0, "a.test"]), serverNameExtension([0, "b.test"])]),
      "repeats",
    ],
    [
      "a repeated non-SNI extension",
      syntheticHello([extension(43, Buffer.from([2, 3, 4])), extension(43, Buffer.from([2, 3, 3]))]),
      "repeats",
    ],
    [
      "bytes after the hello",
      syntheticHello([serverNameExtension([0, "a.test"])], { trailing: Buffer.from([0]) }),
      "bytes after it",
    ],
  ])("%s is invalid (%s)", (_name, bytes, reason) => {
    const result = parseClientHello(bytes);
    expect(result.kind).toBe("invalid");
    expect((result as { reason: string }).reason).toContain(reason);
  });

  test("a record of another type between the hello's records is invalid", () => {
    const split = syntheticHello([serverNameExtension([0, "a.test"])], { recordSize: 20 });
    const alert = Buffer.from([21, 3, 3, 0, 2, 1, 0]);
    const spliced = Buffer.concat([split.subarray(0, 25), alert, split.subarray(25)]);
    expect(parseClientHello(spliced)).toMatchObject({
      kind: "invalid",
      reason: expect.stringContaining("non-handshake record"),
    });
  });

  test("lengths that point past their parent are invalid, not read beyond it", () => {
    const hello = syntheticHello([serverNameExtension([0, "a.test"])]);
    // The server_name list length sits right after the extension header: claim more than there is.
    const sniAt = hello.indexOf(Buffer.from([0, 0, 0, 0x0b]));
    const broken = Buffer.from(hello);
    broken.writeUInt16BE(0x40, sniAt + 4);
    expect(parseClientHello(broken).kind).toBe("invalid");
  });
});

describe("damaged input", () => {
  test("random corruption of real hellos never throws and never invents a verdict from nothing", () => {
    let state = 0x51e5eed;
    const random = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 4294967296;
    };
    const kinds = new Map<ClientHelloResult["kind"], number>();
    for (let i = 0; i < 3000; i++) {
      const source = Object.values(hellos)[Math.floor(random() * Object.values(hellos).length)]!;
      const bytes = Buffer.from(source.subarray(0, Math.floor(random() * (source.length + 1))));
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips && bytes.length > 0; f++)
        bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const result = parseClientHello(bytes);
      kinds.set(result.kind, (kinds.get(result.kind) ?? 0) + 1);
      if (result.kind === "hello" && result.serverName !== undefined)
        expect(result.serverName.length).toBeGreaterThan(0);
    }
    expect(kinds.get("invalid")).toBeGreaterThan(0);
    expect(kinds.get("incomplete")).toBeGreaterThan(0);
  });

  test("random bytes are invalid at once unless they start like a handshake record", () => {
    for (let first = 0; first < 256; first++) {
      const result = parseClientHello(Buffer.from([first, 3, 1, 0, 10]));
      expect(result.kind).toBe(first === 22 ? "incomplete" : "invalid");
    }
  });
});
