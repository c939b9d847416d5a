/**
 * Fault injection for the sandbox, so clients can be tested against the failures Google's
 * servers produce.
 *
 * Spec grammar (whitespace around rules is ignored, empty rules too):
 *
 *   spec  := rule (';' rule)*
 *   rule  := 'seed=' DIGITS                      -- seeds the PRNG used by %RATE (default 1)
 *          | KIND ':' FAULT ['@' N] ['x' COUNT] ['%' RATE]
 *   KIND  := a RequestKind (e.g. upload.chunk, files.download, oauth.token) | '*'
 *   FAULT := 500 | 503 | 429 | rate403 | daily403 | quota403 | reset | short308 | expire
 *          | revoke | slow | nosha256 | nomd5 | hide SECONDS
 *
 * When a rule fires:
 *  - no @, no x       every matching request (with %RATE: each with that probability);
 *  - @N               the Nth matching request counted from when the rule was set, once;
 *  - xCOUNT           COUNT times in a row (from the first, or from the Nth with @N);
 *  - %RATE            percent of the eligible requests, decided by a seeded PRNG, so a run
 *                     is repeatable; with xCOUNT at most COUNT fires.
 * Every rule counts every request of its kind; the first rule that fires decides the request.
 *
 * FAULTs:
 *  - 500, 503         Drive's backendError answer with that status.
 *  - 429              429 rateLimitExceeded with `Retry-After: 1`.
 *  - rate403          403 usageLimits/rateLimitExceeded (retryable by Google's guidance).
 *  - daily403         the 750 GB/day upload cap as Google answers it: 403 usageLimits/
 *                     userRateLimitExceeded, message "User rate limit exceeded." (the body
 *                     rclone's --drive-stop-on-upload-limit recognises, backend/drive/drive.go
 *                     Fs.shouldRetry; Google never says dailyLimitExceeded for it). Meant for
 *                     upload kinds; on others it reads as an ordinary rate limit, as on Drive.
 *  - quota403         403 storageQuotaExceeded (final).
 *  - reset            the connection is destroyed mid-body: for requests with a body after
 *                     reading part of it (an upload chunk persists NOTHING of it); for
 *                     downloads after sending part of the response; otherwise before answering.
 *  - short308         upload chunks only: answer 308 having persisted only up to the last
 *                     256 KiB boundary below what was sent (strictly fewer bytes).
 *  - expire           upload kinds: the resumable session expires now (404); other kinds:
 *                     every access token expires now (401 until refreshed).
 *  - revoke           every token is revoked now (401 / invalid_grant).
 *  - slow             2 s of added latency, then a normal answer.
 *  - nosha256         the file this request answers with (made by an upload, or read by
 *                     files.get) has no sha256Checksum from now on: Drive documents sha1/sha256
 *                     as fields a file may lack ("if available"); with %RATE, a share of files.
 *  - nomd5            this answer leaves out md5Checksum and sha256Checksum (the file keeps
 *                     them: files.get shows them), as an answer given before Drive has them.
 *  - hideN            files.list only: items made in the last N seconds are missing from this
 *                     list (files.get by id still finds them): Drive's lists are not
 *                     read-after-write consistent (reports: rclone/rclone#2485, duplicate
 *                     folders unless 5 s pass; bellingcat/auto-archiver#191, a new folder not
 *                     found by search for minutes; rkhwaja/fs.googledrivefs#52).
 * Error answers read and discard the request body first, as Google's front ends do.
 */
export const FAULT_KINDS = [
  '500',
  '503',
  '429',
  'rate403',
  'daily403',
  'quota403',
  'reset',
  'short308',
  'expire',
  'revoke',
  'slow',
  'nosha256',
  'nomd5',
] as const;
/** A fault: one of FAULT_KINDS, or `hide<seconds>`. */
export type FaultKind = (typeof FAULT_KINDS)[number] | `hide${number}`;

/** How long a `hideN` fault hides new items from a list, in ms; 0 for any other fault. */
export function hiddenForMs(fault: FaultKind | null): number {
  const m = fault === null ? null : /^hide(\d+)$/.exec(fault);
  return m ? Number(m[1]) * 1000 : 0;
}

/** Every kind of request the sandbox tells apart, for its counters and fault rules. */
export const REQUEST_KINDS = [
  'oauth.authorize',
  'oauth.token',
  'oauth.revoke',
  'about.get',
  'files.create',
  'files.list',
  'files.get',
  'files.download',
  'files.update',
  'files.delete',
  'upload.multipart',
  'upload.media',
  'upload.start',
  'upload.chunk',
  'upload.status',
  'upload.cancel',
  'drives.get',
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export interface FaultRule {
  kind: RequestKind | '*';
  fault: FaultKind;
  /** First request (1-based, per rule) that may fire. */
  at: number;
  /** How many fires at most; null = unlimited. */
  count: number | null;
  /** Percent of eligible requests that fire; null = all. */
  rate: number | null;
}

export interface FaultSpec {
  rules: FaultRule[];
  seed: number;
}

const RULE = new RegExp(
  `^([a-z*][a-z.]*):(${FAULT_KINDS.join('|')}|hide\\d+)(?:@(\\d+))?(?:x(\\d+))?(?:%(\\d+(?:\\.\\d+)?))?$`,
);

/** Parses the rules of a spec; throws an Error naming the bad rule. */
export function parseFaultSpec(spec: string): FaultRule[] {
  return parseFaultSpecWithSeed(spec).rules;
}

export function parseFaultSpecWithSeed(spec: string): FaultSpec {
  const rules: FaultRule[] = [];
  let seed = 1;
  for (const raw of spec.split(';')) {
    const text = raw.trim();
    if (text === '') continue;
    const seedMatch = /^seed=(\d+)$/.exec(text);
    if (seedMatch) {
      seed = Number(seedMatch[1]);
      continue;
    }
    const m = RULE.exec(text);
    if (!m) {
      throw new Error(
        `Bad fault rule '${text}': expected KIND:FAULT[@N][xCOUNT][%RATE] with FAULT one of ${FAULT_KINDS.join(', ')}, hideN (seconds), or seed=N.`,
      );
    }
    const kind = m[1] as RequestKind | '*';
    if (kind !== '*' && !REQUEST_KINDS.includes(kind)) {
      throw new Error(
        `Bad fault rule '${text}': unknown request kind '${kind}' (use * or one of ${REQUEST_KINDS.join(', ')}).`,
      );
    }
    const at = m[3] === undefined ? 1 : Number(m[3]);
    if (at < 1) throw new Error(`Bad fault rule '${text}': @N counts from 1.`);
    const count = m[4] !== undefined ? Number(m[4]) : m[3] !== undefined ? 1 : null;
    if (count !== null && count < 1) throw new Error(`Bad fault rule '${text}': xCOUNT must be at least 1.`);
    const rate = m[5] === undefined ? null : Number(m[5]);
    if (rate !== null && (rate <= 0 || rate > 100)) {
      throw new Error(`Bad fault rule '${text}': %RATE must be above 0 and at most 100.`);
    }
    rules.push({ kind, fault: m[2] as FaultKind, at, count, rate });
  }
  return { rules, seed };
}

/** mulberry32: tiny, seedable, spreads faults repeatably (the reliability suite uses it too). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RuleState {
  rule: FaultRule;
  seen: number;
  fired: number;
}

/** The live rule set: decides, request by request, which fault (if any) applies. */
export class FaultPlan {
  private states: RuleState[] = [];
  private random: () => number = prng(1);

  constructor(spec = '') {
    this.set(spec);
  }

  set(spec: string): void {
    const parsed = parseFaultSpecWithSeed(spec);
    this.states = parsed.rules.map((rule) => ({ rule, seen: 0, fired: 0 }));
    this.random = prng(parsed.seed);
  }

  /** Called once per request; counts it for every rule of its kind and returns the fault that fires. */
  decide(kind: RequestKind): FaultKind | null {
    let chosen: FaultKind | null = null;
    for (const state of this.states) {
      const { rule } = state;
      if (rule.kind !== '*' && rule.kind !== kind) continue;
      state.seen += 1;
      if (chosen !== null) continue;
      if (state.seen < rule.at) continue;
      if (rule.count !== null && state.fired >= rule.count) continue;
      // Without a rate, xCOUNT means consecutive requests starting at @N.
      if (rule.rate === null && rule.count !== null && state.seen >= rule.at + rule.count) continue;
      if (rule.rate !== null && this.random() * 100 >= rule.rate) continue;
      state.fired += 1;
      chosen = rule.fault;
    }
    return chosen;
  }
}
