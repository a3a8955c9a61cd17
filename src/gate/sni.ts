/**
 * Reading the server name out of the first bytes a client sends into a tunnel.
 *
 * The proxy lets a CONNECT tunnel open only when those bytes are a TLS
 * ClientHello whose SNI names the host the CONNECT asked for, so a tunnel opened
 * for an allowed host cannot carry a handshake for another one, or plaintext.
 * The parser is strict: anything it cannot fully account for is invalid rather
 * than skipped, since a lenient reader that disagrees with the upstream about
 * where the name is would let the check be bypassed. A ClientHello may be split
 * across several records and arrive in any number of chunks; the caller feeds
 * everything buffered so far and hears `incomplete` until it is all there.
 *
 * Pure functions only; this module is bundled into the gate.
 */

export type ClientHelloResult =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  /** `serverName` is the raw host_name bytes as latin1, undefined when the hello has no SNI. */
  | { kind: "hello"; serverName: string | undefined };

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
// RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes.
const MAX_RECORD = 16_384;
/** The most the proxy buffers while looking for a ClientHello. */
export const MAX_CLIENT_HELLO_BYTES = 65_536;

class Invalid extends Error {}

/** Reads big-endian fields from one buffer, refusing any read past its end. */
class Reader {
  private offset = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  bytes(length: number): Uint8Array {
    if (length > this.remaining) throw new Invalid(`${this.what} is shorter than its lengths say`);
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(): number {
    return this.bytes(1)[0]!;
  }

  u16(): number {
    const b = this.bytes(2);
    return (b[0]! << 8) | b[1]!;
  }

  /** A field preceded by its length in `size` bytes, read as its own Reader. */
  vector(size: 1 | 2, what: string): Reader {
    const length = size === 1 ? this.u8() : this.u16();
    return new Reader(this.bytes(length), what);
  }
}

function parseServerName(extension: Reader): string {
  const list = extension.vector(2, "the server_name list");
  if (extension.remaining !== 0) throw new Invalid("the server_name extension has bytes after its list");
  let hostName: string | undefined;
  if (list.remaining === 0) throw new Invalid("the server_name list is empty");
  while (list.remaining > 0) {
    const type = list.u8();
    const name = list.vector(2, "a server name");
    if (type !== NAME_TYPE_HOST) continue;
    // RFC 6066 §3: at most one name of each type.
    if (hostName !== undefined) throw new Invalid("the ClientHello names two hosts in its SNI");
    if (name.remaining === 0) throw new Invalid("the SNI host name is empty");
    hostName = Buffer.from(name.bytes(name.remaining)).toString("latin1");
  }
  if (hostName === undefined) throw new Invalid("the server_name extension has no host name");
  return hostName;
}

function parseHelloBody(body: Reader): string | undefined {
  const major = body.u8();
  body.u8();
  if (major !== 3) throw new Invalid("the ClientHello is not TLS (legacy_version major is not 3)");
  body.bytes(32);
  if (body.vector(1, "the session id").remaining > 32) throw new Invalid("the session id is longer than 32 bytes");
  const suites = body.vector(2, "the cipher suites");
  if (suites.remaining === 0 || suites.remaining % 2 !== 0) throw new Invalid("the cipher suite list is malformed");
  if (body.vector(1, "the compression methods").remaining === 0)
    throw new Invalid("the compression method list is empty");
  if (body.remaining === 0) return undefined;
  const extensions = body.vector(2, "the extensions");
  if (body.remaining !== 0) throw new Invalid("the ClientHello has bytes after its extensions");
  const seen = new Set<number>();
  let serverName: string | undefined;
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.vector(2, "an extension");
    // RFC 8446 §4.2: a repeated extension makes the hello invalid.
    if (seen.has(type)) throw new Invalid(`the ClientHello repeats extension ${type}`);
    seen.add(type);
    if (type === EXTENSION_SERVER_NAME) serverName = parseServerName(data);
  }
  return serverName;
}

/**
 * What `data`, the bytes a client sent so far, says: still `incomplete`, not a
 * ClientHello (`invalid`, with the reason), or a complete `hello` with its SNI.
 * Answers `invalid` as soon as the bytes cannot become a ClientHello, so a
 * plaintext client is refused at its first byte rather than at a timeout.
 */
export function parseClientHello(data: Uint8Array, maxBytes = MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  try {
    const fragments: Uint8Array[] = [];
    let handshakeBytes = 0;
    let offset = 0;
    for (;;) {
      const available = data.length - offset;
      if (available >= 1 && data[offset] !== RECORD_HANDSHAKE) {
        throw new Invalid(
          offset === 0
            ? "the client did not start a TLS handshake"
            : "a non-handshake record came before the ClientHello ended",
        );
      }
      if (available >= 2 && data[offset + 1] !== 3) throw new Invalid("the record is not TLS (version major is not 3)");
      if (available < 5) return { kind: "incomplete" };
      const length = (data[offset + 3]! << 8) | data[offset + 4]!;
      if (length === 0) throw new Invalid("an empty handshake record");
      if (length > MAX_RECORD) throw new Invalid("a TLS record is longer than 16 KiB");
      if (offset + 5 + length > maxBytes) throw new Invalid(`the ClientHello is longer than ${maxBytes} bytes`);
      if (available < 5 + length) return { kind: "incomplete" };
      fragments.push(data.subarray(offset + 5, offset + 5 + length));
      handshakeBytes += length;
      offset += 5 + length;
      if (handshakeBytes < 4) continue;
      const handshake = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      fragments.length = 0;
      fragments.push(handshake);
      if (handshake[0] !== HANDSHAKE_CLIENT_HELLO)
        throw new Invalid("the first handshake message is not a ClientHello");
      const bodyLength = (handshake[1]! << 16) | (handshake[2]! << 8) | handshake[3]!;
      if (4 + bodyLength > maxBytes) throw new Invalid(`the ClientHello is longer than ${maxBytes} bytes`);
      if (handshakeBytes < 4 + bodyLength) continue;
      // A client sends nothing else until the server answers, so a second
      // handshake message in the same flight is not a real client.
      if (handshakeBytes > 4 + bodyLength) throw new Invalid("the ClientHello's records carry bytes after it");
      const serverName = parseHelloBody(new Reader(handshake.subarray(4), "the ClientHello"));
      return { kind: "hello", serverName };
    }
  } catch (error) {
    if (error instanceof Invalid) return { kind: "invalid", reason: error.message };
    throw error;
  }
}
