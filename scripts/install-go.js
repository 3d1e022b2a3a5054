#!/usr/bin/env node
'use strict';
/*
 * Installs a Go toolchain from the Go module proxy, for machines (CI) without Go.
 *
 *   node scripts/install-go.js [DEST_PARENT]   # prints the GOROOT; add GOROOT/bin to PATH
 *
 * Go toolchains are published as the module golang.org/toolchain, exactly as the
 * `go` command's own GOTOOLCHAIN downloads use them. The zip is checked against the
 * checksum database (through the proxy's sumdb endpoint) before it is unpacked.
 * Node built-ins only. Environment: GO_VERSION (default 1.24.3), GOPROXY (first entry used).
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const GO_VERSION = process.env.GO_VERSION || '1.24.3';

function fail(msg) {
  process.stderr.write(`install-go: error: ${msg}\n`);
  process.exit(1);
}

function platform() {
  const goos = { linux: 'linux', darwin: 'darwin', freebsd: 'freebsd' }[process.platform];
  const goarch = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'armv6l' }[process.arch];
  if (!goos || !goarch) fail(`no Go toolchain for ${process.platform}/${process.arch}`);
  return `${goos}-${goarch}`;
}

function proxyBase() {
  const first = (process.env.GOPROXY || 'https://proxy.golang.org').split(/[,|]/)[0];
  if (!/^https?:\/\//.test(first)) return 'https://proxy.golang.org';
  return first.replace(/\/+$/, '');
}

async function get(url, what) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    const why = e.cause?.message || e.message;
    const hint = /certificate/i.test(why) ? ' (behind a TLS-intercepting proxy? point NODE_EXTRA_CA_CERTS at its CA bundle)' : '';
    fail(`could not fetch ${what} from ${url}: ${why}${hint}`);
  }
  if (!res.ok) fail(`could not fetch ${what} from ${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Entries of a zip archive: [{ name, data }] (stored or deflated; no zip64). */
function readZip(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) fail('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else fail(`unsupported zip compression method ${method} for ${name}`);
    entries.push({ name, data });
  }
  return entries;
}

/** golang.org/x/mod/sumdb/dirhash Hash1 over the zip's files. */
function hash1(entries) {
  const lines = [...entries]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => `${crypto.createHash('sha256').update(e.data).digest('hex')}  ${e.name}\n`);
  return `h1:${crypto.createHash('sha256').update(lines.join('')).digest('base64')}`;
}

async function main() {
  const destParent = path.resolve(
    process.argv[2] || path.join(process.env.FERRETDB_CACHE || path.join(os.homedir(), '.cache', 'audience-sync')),
  );
  const version = `v0.0.1-go${GO_VERSION}.${platform()}`;
  const goroot = path.join(destParent, `go${GO_VERSION}.${platform()}`);
  const goBin = path.join(goroot, 'bin', 'go');
  if (fs.existsSync(goBin)) {
    process.stdout.write(`${goroot}\n`);
    return;
  }

  const mod = `golang.org/toolchain@${version}`;
  const base = proxyBase();
  process.stderr.write(`install-go: downloading ${mod} from ${base}\n`);
  const zip = await get(`${base}/golang.org/toolchain/@v/${version}.zip`, 'the Go toolchain');

  const lookup = (await get(`${base}/sumdb/sum.golang.org/lookup/${mod}`, 'its checksum')).toString('utf8');
  const want = lookup
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[0] === 'golang.org/toolchain' && f[1] === version)?.[2];
  if (!want) fail(`no checksum for ${mod} in the checksum database answer`);

  const entries = readZip(zip);
  const got = hash1(entries);
  if (got !== want) fail(`checksum mismatch for ${mod}: got ${got}, want ${want}`);

  const prefix = `${mod}/`;
  fs.mkdirSync(destParent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(destParent, '.go-install-'));
  try {
    for (const { name, data } of entries) {
      if (!name.startsWith(prefix)) continue;
      const rel = name.slice(prefix.length);
      if (rel.split('/').includes('..')) fail(`unsafe path in zip: ${name}`);
      const out = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      // Module zips carry no file modes; like `go` itself, make bin/ and pkg/tool/ executable.
      const exec = /^bin\/[^/]+$|^pkg\/tool\/[^/]+\/[^/]+$/.test(rel);
      fs.writeFileSync(out, data, { mode: exec ? 0o755 : 0o644 });
    }
    fs.rmSync(goroot, { recursive: true, force: true });
    fs.renameSync(tmp, goroot);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stderr.write(`install-go: installed Go ${GO_VERSION} in ${goroot}\n`);
  process.stdout.write(`${goroot}\n`);
}

main().catch((e) => fail(e.stack || String(e)));
