import { createServer, Socket, type Server } from 'node:net';

/** A TCP proxy to the store, to take the store away from a process and bring it back on the same address. */
export class StoreProxy {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  /** While set, the store's replies are dropped: operations sent now stay in flight until `down()`. */
  private holding = false;
  port = 0;

  constructor(
    private targetHost: string,
    private targetPort: number,
  ) {}

  async up(): Promise<void> {
    this.holding = false;
    const server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      upstream.on('data', (d: Buffer) => {
        if (!this.holding && !client.write(d)) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Replies stop coming back (the store hangs); `down()` ends it. */
  hold(): void {
    this.holding = true;
  }

  /** The store goes away: open connections are cut and new ones refused. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
