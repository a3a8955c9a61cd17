// A minimal ustar writer: in-memory files and their parent directories, each with
// a mode, in one Buffer. Enough to hand `docker cp - <container>:/` the same kind
// of archive the runner puts into the gate container (the daemon makes the files
// root-owned in the container; modes are kept).

const BLOCK = 512;

function octal(value, width) {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header({ name, mode, uid, gid, size, type }) {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  block.write(octal(mode, 8), 100, 8, "ascii");
  block.write(octal(uid, 8), 108, 8, "ascii");
  block.write(octal(gid, 8), 116, 8, "ascii");
  block.write(octal(size, 12), 124, 12, "ascii");
  block.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, "ascii");
  block.write("        ", 148, 8, "ascii");
  block.write(type, 156, 1, "ascii");
  block.write("ustar\0", 257, 6, "ascii");
  block.write("00", 263, 2, "ascii");
  block.write(uid === 0 ? "root" : "", 265, 32, "ascii");
  block.write(gid === 0 ? "root" : "", 297, 32, "ascii");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + " ", 148, 8, "ascii");
  return block;
}

/**
 * `files`: [{ name: "opt/x/a.js", content: Buffer|string, mode?: 0o444 }], names
 * relative to where the archive is unpacked. Parent directories get mode 0755.
 */
export function tarFiles(files, { uid = 0, gid = 0 } = {}) {
  const parts = [];
  const dirs = new Set();
  for (const file of files) {
    const segments = file.name.split("/").slice(0, -1);
    for (let i = 1; i <= segments.length; i++) {
      const dir = segments.slice(0, i).join("/");
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      parts.push(header({ name: `${dir}/`, mode: 0o755, uid, gid, size: 0, type: "5" }));
    }
    const content = Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content);
    parts.push(header({ name: file.name, mode: file.mode ?? 0o644, uid, gid, size: content.length, type: "0" }));
    parts.push(content);
    const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
