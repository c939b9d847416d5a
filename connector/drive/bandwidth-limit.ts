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

/**
 * The bytes of `source` (a stream, or one buffer), handed on slice by slice as the bucket
 * allows. It holds one piece of the source at a time (a stream is paused while its piece is
 * sent: the upload engine's ring of read buffers relies on nobody reading further ahead) and
 * at most one slice of it in its own buffer. Destroying it, from either side, stops a wait on
 * the bucket at once and destroys the source, so a request cut off mid-body frees everything.
 */
export class PacedReadable extends Readable {
  private piece: Uint8Array | undefined;
  private at = 0;
  private sourceEnded: boolean;
  /** Called when the paused source has a piece, has ended or is gone. */
  private wake: (() => void) | undefined;
  private readonly stop = new AbortController();
  private readonly stream: Readable | undefined;

  constructor(
    source: Readable | Uint8Array,
    private readonly bucket: TokenBucket,
  ) {
    super({ highWaterMark: SLICE });
    if (!(source instanceof Readable)) {
      this.piece = source;
      this.sourceEnded = true;
      return;
    }
    this.stream = source;
    this.sourceEnded = source.readableEnded;
    // Paused first, so the 'data' listener does not start the flow: resumed only for one piece.
    source.pause();
    source.on('data', (chunk: Uint8Array) => {
      source.pause();
      this.piece = chunk;
      this.at = 0;
      this.wakeUp();
    });
    source.once('end', () => {
      this.sourceEnded = true;
      this.wakeUp();
    });
    // Always listened to, so a source failing after this stream is gone is never unhandled.
    source.on('error', (error) => this.destroy(error));
    source.once('close', () => {
      // Destroyed before its end (the caller gave up on the request): so is this stream.
      if (!this.sourceEnded) this.destroy();
      this.wakeUp();
    });
  }

  override _read(): void {
    this.nextSlice().then(
      (slice) => {
        if (!this.destroyed) this.push(slice);
      },
      (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stop.abort();
    this.piece = undefined;
    this.stream?.destroy();
    this.wakeUp();
    callback(error);
  }

  /** The next slice once the bucket allows it, or null at the end (never an empty one). */
  private async nextSlice(): Promise<Uint8Array | null> {
    while (this.piece === undefined || this.at >= this.piece.length) {
      this.piece = undefined;
      if (this.sourceEnded || this.destroyed || this.stream === undefined) return null;
      await this.nextPiece(this.stream);
    }
    const slice = this.piece.subarray(this.at, Math.min(this.piece.length, this.at + SLICE));
    this.at += slice.length;
    await this.bucket.take(slice.length, this.stop.signal);
    return slice;
  }

  private nextPiece(stream: Readable): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      stream.resume();
    });
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Node-fetch's own type for a text body it turns into bytes (kept when we do that instead). */
const TEXT_TYPE = 'text/plain;charset=UTF-8';
const FORM_TYPE = 'application/x-www-form-urlencoded;charset=UTF-8';

/** The request body as bytes to pace, or undefined when it is not one we pace. */
function pacedRequestBody(options: gaxios.GaxiosOptionsPrepared, bucket: TokenBucket): Readable | undefined {
  const body: unknown = options.body;
  if (body instanceof Readable) return new PacedReadable(body, bucket);
  let bytes: Uint8Array;
  if (body instanceof Uint8Array) bytes = body;
  else if (typeof body === 'string' || body instanceof URLSearchParams) {
    bytes = Buffer.from(body.toString());
    if (!options.headers.has('content-type'))
      options.headers.set('content-type', typeof body === 'string' ? TEXT_TYPE : FORM_TYPE);
  } else return undefined;
  if (bytes.length === 0) return undefined;
  // A stream has no length of its own: the header keeps the request a plain Content-Length
  // one, as a resumable-upload chunk must be.
  options.headers.set('content-length', String(bytes.length));
  return new PacedReadable(bytes, bucket);
}

/**
 * Paces every request body the client sends (bytes, text or stream) and every streamed
 * response body it receives. Without a limit in the config nothing is added at all.
 */
export function applyBandwidthLimit(
  client: OAuth2Client,
  config: object & { bandwidthLimit?: number },
): void {
  const bucket = bucketFor(config);
  if (!bucket) return;
  client.transporter.interceptors.request.add({
    resolved: async (options: gaxios.GaxiosOptionsPrepared) => {
      const paced = pacedRequestBody(options, bucket);
      if (paced) options.body = paced;
      return options;
    },
  });
  client.transporter.interceptors.response.add({
    resolved: async (response: gaxios.GaxiosResponse) => {
      const data: unknown = response.data;
      if (data instanceof Readable) response.data = new PacedReadable(data, bucket);
      return response;
    },
  });
}
