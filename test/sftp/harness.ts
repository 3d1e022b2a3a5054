import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { Client, type SFTPWrapper } from 'ssh2';
import { startFileQueue, type FileQueue } from '../../src/csv';
import { createLogger } from '../../src/server/logger';
import { sftpBans, sftpBytesReceived, sftpLogins } from '../../src/server/metrics';
import { generateEd25519KeyPair, startSftpServer, type SftpServer, type SftpServerOptions } from '../../src/sftp';
import { createConnection } from '../../src/store';
import { bearer } from '../api/helpers';

/** A temporary directory for keys and files, removed by `cleanup`. */
export function tempDir(label: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `sftp-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An ed25519 key pair: the private key file (mode 600, for `sftp -i`) and the public authorized_keys line. */
export function makeKey(dir: string, name: string): { path: string; publicKey: string } {
  const pair = generateEd25519KeyPair(`${name}@test`);
  const path = join(dir, name);
  writeFileSync(path, pair.private);
  chmodSync(path, 0o600);
  return { path, publicKey: pair.public };
}

export interface Account {
  id: string;
  username: string;
  password: string;
}

export async function sftpConnection(orgId: string, publicKeys: string[] = []): Promise<Account> {
  const c = await createConnection(
    { orgId, type: 'sftp', publicKeys },
    { publicUrl: 'http://localhost', secretKey: 'test-secret-key-0123456789' },
  );
  return { id: c.id, username: c.username!, password: c.password! };
}

export interface Daemon {
  server: SftpServer;
  queue: FileQueue;
  stop(): Promise<void>;
}

/** The SFTP server on loopback (port 0) and the file queue, in this process. */
export async function startDaemon(hostKeyPath: string, opts: Partial<SftpServerOptions> = {}, withQueue = true): Promise<Daemon> {
  const logger = createLogger('silent');
  const queue = withQueue ? startFileQueue({ logger, pollMs: 200 }) : { poke: () => undefined, stop: async () => undefined };
  const metrics = {
    login: (outcome: string) => sftpLogins.inc({ outcome }),
    ban: (kind: string) => sftpBans.inc({ kind }),
    received: (bytes: number) => sftpBytesReceived.inc(bytes),
  };
  const server = await startSftpServer({ port: 0, host: '127.0.0.1', hostKeyPath, logger, onQueued: () => queue.poke(), metrics, ...opts });
  return {
    server,
    queue,
    async stop() {
      await server.close();
      await queue.stop();
    },
  };
}

export interface SftpRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the OpenSSH `sftp` client in batch mode (commands on stdin), with a key or (through sshpass) a password. */
export function openSsh(
  port: number,
  user: string,
  commands: string,
  auth: { key?: string; password?: string },
  cwd?: string,
): Promise<SftpRun> {
  const common = [
    '-P',
    String(port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=20',
  ];
  let cmd: string;
  let args: string[];
  if (auth.key) {
    cmd = 'sftp';
    args = ['-b', '-', ...common, '-o', 'IdentitiesOnly=yes', '-o', 'PasswordAuthentication=no', '-i', auth.key, `${user}@127.0.0.1`];
  } else {
    cmd = 'sshpass';
    // -b implies BatchMode (no password prompt); sshpass needs the prompt.
    args = [
      '-e',
      'sftp',
      '-o',
      'BatchMode=no',
      '-b',
      '-',
      ...common,
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'PreferredAuthentications=password',
      `${user}@127.0.0.1`,
    ];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, SSHPASS: auth.password ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(commands.endsWith('\n') ? commands : `${commands}\n`);
  });
}

/** An ssh2 client session (fastPut, raw requests). */
export function ssh2Client(
  port: number,
  username: string,
  auth: { password?: string; privateKey?: Buffer },
): Promise<{ client: Client; sftp: SFTPWrapper }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.on('error', reject);
    client.on('ready', () => {
      client.sftp((err, sftp) => (err ? reject(err) : resolve({ client, sftp })));
    });
    client.connect({ host: '127.0.0.1', port, username, ...auth, readyTimeout: 20_000 });
  });
}

/** Tries one password login with ssh2; true when it was accepted. */
export function tryPassword(port: number, username: string, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = new Client();
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      client.end();
      resolve(ok);
    };
    client.on('ready', () => done(true));
    client.on('error', () => done(false));
    client.on('close', () => done(false));
    client.connect({ host: '127.0.0.1', port, username, password, readyTimeout: 10_000, tryKeyboard: false });
  });
}

/** Waits until the sync runs of a connection with this label (file name) ended; returns the newest. */
export async function waitForFileRun(
  app: Express,
  token: string,
  connectionId: string,
  label: string,
  timeoutMs = 60_000,
  count = 1,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(app).get(`/api/v1/sync-runs?connectionId=${connectionId}&limit=100`).set(bearer(token));
    const runs = (res.body.items ?? []).filter((r: { label: string }) => r.label === label);
    const ended = runs.filter((r: { status: string }) => !['queued', 'running', 'applying'].includes(r.status));
    if (ended.length >= count && ended.length === runs.length) return ended[0];
    if (Date.now() > deadline) throw new Error(`no finished run for ${label}: ${JSON.stringify(res.body).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function csvPeople(n: number, from = 0, dept: (i: number) => string = (i) => (i % 2 ? 'Sales' : 'Eng')): string {
  return (
    [
      'email,first name,last name,department,groups',
      ...Array.from({ length: n }, (_, k) => {
        const i = k + from;
        return `p${i}@example.com,P${i},Staff,${dept(i)},${dept(i)};All`;
      }),
    ].join('\n') + '\n'
  );
}
