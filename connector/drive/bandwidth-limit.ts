/**
 * GDRIVE_BANDWIDTH_LIMIT: one token bucket per connector, shared by every upload and download
 * it runs, applied where bytes meet the wire: each request body that leaves (a resumable-upload
 * chunk) and each streamed response body that arrives (a ranged download) takes its bytes from
 * the bucket in slices before they move. A download is slowed by reading its body no faster
 * than the bucket allows: the socket's buffers fill and TCP slows the sender down.
 *
 * The bucket holds a tenth of a second of bytes (at least one slice), so a transfer cannot
 * burst much above the limit after a pause; takers that find it empty wait their turn in order,
 * as the debt they leave grows for the next one.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { gaxios, OAuth2Client } from 'google-auth-library';

/** Bytes moved per take: small enough to pace smoothly, large enough to cost nothing. */
const SLICE = 64 * 1024;

export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly capacity: number;

  constructor(
    /** Bytes per second. */
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.capacity = Math.max(SLICE, rate / 10);
    this.tokens = this.capacity;
    this.last = this.now();
  }

  /** Resolves when `bytes` may move; concurrent takers share the rate. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= bytes;
    if (this.tokens < 0) await sleep((-this.tokens * 1000) / this.rate, undefined, { signal });
  }

  /** `body` in slices, each sent once the bucket allows it. */
  async *paced(body: Uint8Array, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < body.length; at += SLICE) {
      const slice = body.subarray(at, Math.min(body.length, at + SLICE));
      await this.take(slice.length, signal);
      yield slice;
    }
  }

  /** The pieces of `source`, each handed on once the bucket allows it. */
  async *pacedStream(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    for await (const piece of source) yield* this.paced(piece, signal);
  }
}

/** One bucket per connector: keyed by the config object every client of a connector shares. */
const buckets = new WeakMap<object, TokenBucket>();

function bucketFor(config: object & { bandwidthLimit?: number }): TokenBucket | undefined {
  const rate = config.bandwidthLimit ?? 0;
  if (rate <= 0) return undefined;
  let bucket = buckets.get(config);
  if (bucket?.rate !== rate) {
    bucket = new TokenBucket(rate);
    buckets.set(config, bucket);
  }
  return bucket;
}

function isBinary(body: unknown): body is Uint8Array {
  return body instanceof Uint8Array && body.length > 0;
}

function isStream(data: unknown): data is Readable {
  return data instanceof Readable;
}

/**
 * Paces the client's binary request bodies and streamed response bodies (JSON bodies of
 * metadata calls are small and left alone). No-op when the config sets no limit.
 */
export function applyBandwidthLimit(
  client: OAuth2Client,
  config: object & { bandwidthLimit?: number },
): void {
  const bucket = bucketFor(config);
  if (!bucket) return;
  client.transporter.interceptors.request.add({
    resolved: async (options: gaxios.GaxiosOptionsPrepared) => {
      const body = options.body;
      if (isBinary(body)) {
        // A stream has no length of its own: the header keeps the request a plain,
        // Content-Length one, which resumable-upload chunks must be.
        options.headers.set('content-length', String(body.length));
        options.body = Readable.from(bucket.paced(body, options.signal ?? undefined), { objectMode: false });
      }
      return options;
    },
  });
  client.transporter.interceptors.response.add({
    resolved: async (response: gaxios.GaxiosResponse) => {
      const data: unknown = response.data;
      if (isStream(data)) {
        const paced = Readable.from(bucket.pacedStream(data, response.config.signal ?? undefined), {
          objectMode: false,
        });
        // Dropping the paced stream must stop the connection under it too.
        paced.once('close', () => data.destroy());
        response.data = paced;
      }
      return response;
    },
  });
}
