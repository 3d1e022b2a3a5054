import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(__dirname, '..', '..', 'src', 'cli', 'main.js');

export interface ServiceProcess {
  child: ChildProcess;
  sftpPort: number;
  /** Log lines (pino JSON) so far. */
  logs: Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `audience-sync serve --roles sftp,worker` as a child process on loopback; resolves once SFTP listens. */
export function startServiceProcess(env: Record<string, string>, roles = 'sftp,worker'): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--roles', roles], {
    env: { ...process.env, SFTP_PORT: '0', SFTP_HOST: '127.0.0.1', LOG_LEVEL: 'info', SECRET_KEY: 'test-secret-key-0123456789', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let buf = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`service did not start: ${stderr}`)), 30_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          logs.push(rec);
          if (rec.msg === 'sftp listening') {
            clearTimeout(timer);
            resolve({
              child,
              logs,
              sftpPort: Number(rec.port),
              async kill(signal: NodeJS.Signals = 'SIGKILL') {
                if (child.exitCode === null && child.signalCode === null) child.kill(signal);
                await exited;
              },
            });
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}: ${stderr}`));
    });
  });
}

export { StoreProxy } from '../helpers/storeProxy';
