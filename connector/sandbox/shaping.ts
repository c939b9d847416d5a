/**
 * Traffic shaping of the sandbox: a per-connection bandwidth cap (both directions), the
 * added latency, and the server time real Drive spends on each upload request (which is why
 * rclone's users raise --drive-chunk-size to fill fast lines, docs/content/drive.md). The cap is a token bucket per socket and direction, so two parallel
 * connections each get the full rate, as two TCP streams to Google would.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Paces bytes to `bytesPerSecond`; `take(n)` resolves when n more bytes may pass. */
export class Throttle {
  private nextFree = 0;

  constructor(private readonly bytesPerSecond: number) {}

  async take(bytes: number): Promise<void> {
    const now = performance.now();
    // Allow a small burst (50 ms worth) so tiny writes are not each delayed.
    const start = Math.max(this.nextFree, now - 50);
    this.nextFree = start + (bytes / this.bytesPerSecond) * 1000;
    const wait = this.nextFree - now;
    if (wait > 1) await sleep(wait);
  }
}

export interface ConnectionShaper {
  /** Client -> sandbox (request bodies). */
  readonly inbound: Throttle | null;
  /** Sandbox -> client (response bodies). */
  readonly outbound: Throttle | null;
}

const unlimited: ConnectionShaper = { inbound: null, outbound: null };

/** Hands out one shaper per connection (each with its own buckets at the configured cap). */
export class Shaping {
  private readonly perSocket = new WeakMap<Socket, ConnectionShaper>();

  constructor(
    readonly latencyMs = 0,
    readonly bandwidthMbit: number | undefined = undefined,
    /** Server time on each upload request before it is answered (a Drive-like link). */
    readonly uploadRequestMs = 0,
  ) {}

  forSocket(socket: Socket): ConnectionShaper {
    if (!this.bandwidthMbit || this.bandwidthMbit <= 0) return unlimited;
    let shaper = this.perSocket.get(socket);
    if (!shaper) {
      const bytesPerSecond = (this.bandwidthMbit * 1_000_000) / 8;
      shaper = { inbound: new Throttle(bytesPerSecond), outbound: new Throttle(bytesPerSecond) };
      this.perSocket.set(socket, shaper);
    }
    return shaper;
  }
}
