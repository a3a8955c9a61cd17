/**
 * The world's DNS server: answers A and AAAA questions over UDP for the `.test`
 * names the security tests use, and prints one JSON line for every query it
 * gets, so a test can prove that a name was never looked up.
 *
 *   allowed.test, *.allowed.test, evil.test, *.evil.test  → the origin
 *   rebind.test   → rotates: the origin, 127.0.0.1, the asker's own address,
 *                   169.254.169.254, and the origin together with 127.0.0.1
 *   mapped.test   → the origin (A) and ::ffff:127.0.0.1 (AAAA)
 *   <anything>.a-b-c-d.ip.test → a.b.c.d (A), for a name that leads wherever a test
 *                   needs, such as the Docker host's own addresses
 *   anything else → NXDOMAIN
 *
 * The asker's own address stands for "the gate's own IP": the gate's lookups
 * reach this server from its address on the world network. Every answer has a
 * TTL of 0 so no cache between the gate and here can hide a rotation.
 *
 * Usage: node dns.mjs <origin IPv4>. Built-ins only.
 */
import { createSocket } from "node:dgram";

const origin = process.argv[2];
if (!origin) throw new Error("usage: dns.mjs <origin IPv4>");

const log = (event) =>
  process.stdout.write(`${JSON.stringify({ svc: "dns", time: new Date().toISOString(), ...event })}\n`);

const TYPE = { A: 1, AAAA: 28 };
const TYPE_NAME = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
const NXDOMAIN = 3;
const FORMERR = 1;

let rebinds = 0;
function rebindAnswer(asker) {
  const rotation = [[origin], ["127.0.0.1"], [asker], ["169.254.169.254"], [origin, "127.0.0.1"]];
  return rotation[rebinds++ % rotation.length];
}

/** The addresses for `name` and `type`, or null for a name that does not exist. */
function answer(name, type, asker) {
  const under = (zone) => name === zone || name.endsWith(`.${zone}`);
  if (under("allowed.test") || under("evil.test")) return type === TYPE.A ? [origin] : [];
  if (name === "rebind.test") return type === TYPE.A ? rebindAnswer(asker) : [];
  const spelled = /(?:^|\.)(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})\.ip\.test$/.exec(name);
  if (spelled) return type === TYPE.A ? [spelled.slice(1, 5).join(".")] : [];
  if (name === "mapped.test") return type === TYPE.A ? [origin] : type === TYPE.AAAA ? ["::ffff:127.0.0.1"] : [];
  return null;
}

/** The question's name and where the question ends, or null when the packet is not one we can read. */
function readQuestion(packet) {
  if (packet.length < 12 || packet.readUInt16BE(4) !== 1) return null;
  const labels = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return null;
    const length = packet[at];
    if (length === 0) break;
    if (length > 63 || at + 1 + length > packet.length) return null;
    labels.push(packet.subarray(at + 1, at + 1 + length).toString("latin1"));
    at += 1 + length;
  }
  at += 1;
  if (at + 4 > packet.length) return null;
  return { name: labels.join("."), type: packet.readUInt16BE(at), end: at + 4 };
}

function ipv4Bytes(address) {
  return Buffer.from(address.split(".").map(Number));
}

function ipv6Bytes(address) {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (!mapped) throw new Error(`only ::ffff:a.b.c.d is spelled here, not ${address}`);
  return Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), ipv4Bytes(mapped[1])]);
}

function reply(query, question, rcode, addresses) {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  const opcodeAndRd = query[2] & 0x79;
  header[2] = 0x80 | 0x04 | opcodeAndRd; // QR, AA
  header[3] = 0x80 | rcode; // RA
  header.writeUInt16BE(question ? 1 : 0, 4);
  header.writeUInt16BE(addresses.length, 6);
  const parts = [header];
  if (question) parts.push(query.subarray(12, question.end));
  for (const address of addresses) {
    const data = question.type === TYPE.A ? ipv4Bytes(address) : ipv6Bytes(address);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // the name, as a pointer to the question's
    record.writeUInt16BE(question.type, 2);
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(0, 6); // TTL
    record.writeUInt16BE(data.length, 10);
    parts.push(record, data);
  }
  return Buffer.concat(parts);
}

const socket = createSocket("udp4");
socket.on("message", (query, from) => {
  const question = readQuestion(query);
  if (question === null) {
    log({ event: "unreadable", from: from.address, bytes: query.length });
    socket.send(reply(query, null, FORMERR, []), from.port, from.address);
    return;
  }
  const name = question.name.toLowerCase().replace(/\.$/, "");
  const known =
    question.type === TYPE.A || question.type === TYPE.AAAA ? answer(name, question.type, from.address) : [];
  const addresses = known ?? [];
  log({
    event: "query",
    name: question.name,
    type: TYPE_NAME[question.type] ?? question.type,
    from: from.address,
    answer: known === null ? "NXDOMAIN" : addresses,
  });
  socket.send(reply(query, question, known === null ? NXDOMAIN : 0, addresses), from.port, from.address);
});
socket.bind(53, () => log({ event: "listening", port: 53 }));
