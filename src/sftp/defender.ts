/**
 * Brute-force defence modelled on SFTPGo's defender: failed logins are scored per username and per source address
 * within a window; reaching the threshold bans that username or address, each new ban of the same key lasting longer
 * (doubling up to a maximum). Kept per process: each instance defends itself.
 */
export interface DefenderOptions {
  /** Failures of one username within the window that ban it. */
  userThreshold: number;
  /** Failures from one address within the window that ban it. */
  addressThreshold: number;
  windowMs: number;
  /** First ban; each further ban of the same key doubles, up to maxBanMs. */
  banMs: number;
  maxBanMs: number;
}

export const DEFAULT_DEFENDER: DefenderOptions = {
  userThreshold: 10,
  addressThreshold: 15,
  windowMs: 10 * 60_000,
  banMs: 5 * 60_000,
  maxBanMs: 24 * 3_600_000,
};

interface KeyState {
  failures: number[];
  bannedUntil: number;
  bans: number;
}

export class Defender {
  private keys = new Map<string, KeyState>();
  readonly opts: DefenderOptions;

  constructor(
    opts: Partial<DefenderOptions> = {},
    private now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULT_DEFENDER, ...opts };
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      s = { failures: [], bannedUntil: 0, bans: 0 };
      this.keys.set(key, s);
    }
    return s;
  }

  /** Milliseconds of ban left for this address, or 0. */
  addressBan(address: string): number {
    return Math.max(0, (this.keys.get(`a:${address}`)?.bannedUntil ?? 0) - this.now());
  }

  userBan(username: string): number {
    return Math.max(0, (this.keys.get(`u:${username.toLowerCase()}`)?.bannedUntil ?? 0) - this.now());
  }

  /** Scores a failed login; returns the keys this failure banned (for logs and metrics). */
  fail(username: string | null, address: string, score = 1): { key: string; banMs: number }[] {
    const banned: { key: string; banMs: number }[] = [];
    const now = this.now();
    const hit = (key: string, threshold: number) => {
      const s = this.state(key);
      s.failures = s.failures.filter((t) => now - t < this.opts.windowMs);
      for (let i = 0; i < score; i++) s.failures.push(now);
      if (s.failures.length >= threshold && s.bannedUntil <= now) {
        const banMs = Math.min(this.opts.maxBanMs, this.opts.banMs * 2 ** s.bans);
        s.bans++;
        s.bannedUntil = now + banMs;
        s.failures = [];
        banned.push({ key, banMs });
      }
    };
    if (username) hit(`u:${username.toLowerCase()}`, this.opts.userThreshold);
    hit(`a:${address}`, this.opts.addressThreshold);
    this.prune(now);
    return banned;
  }

  private prune(now: number): void {
    if (this.keys.size < 10_000) return;
    for (const [k, s] of this.keys) if (s.bannedUntil <= now && !s.failures.some((t) => now - t < this.opts.windowMs)) this.keys.delete(k);
  }
}
