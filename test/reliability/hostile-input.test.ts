// Hostile input: what a buggy or malicious caller holding the API token can send. Each is
// answered with a clear 4xx error in the API's shape ({error: {code, message, retryable}}, the
// catalogue's sentence) and changes nothing: the sandbox's Drive, the data dir, the exchange
// dir and the files outside it are the same before and after.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../connector/errors/errors.js';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import type { ServiceClient } from '../../connector/service/service-client.js';
import { bytesOf } from '../connector/data-path-fixture.js';
import { answerConsent } from '../helpers/test-env.js';
import { type RawAnswer, raw } from '../service/harness.js';
import { Tally } from './figures.js';
import {
  CHUNK,
  connect,
  diskSnapshot,
  driveFiles,
  OBJECT,
  rawHttp,
  ServeProcess,
  sentenceOf,
  serviceFlags,
  type Workspace,
  workspace,
} from './service.js';

/** Node has no mkfifo(): coreutils' does it. */
const makeFifo = (path: string, mode: number) => execFileAsync('mkfifo', ['-m', mode.toString(8), path]);
const execFileAsync = promisify(execFile);
const BASE = '/v1/objects/subscription:10';
/** How long a refusal may take: a refusal needs no Drive request, so this is only a hang guard. */
const ANSWER_WITHIN_MS = 5_000;

const tally = new Tally('hostile');
let sandbox: Sandbox;
let space: Workspace;
let serve: ServeProcess;
let client: ServiceClient;
let token: string;
const KEPT = '/keep/data.tar';
let kept: Buffer;

beforeAll(async () => {
  sandbox = await startSandbox({});
  space = await workspace('hostile');
  serve = await ServeProcess.start(sandbox, space.dataDir('hostile'), serviceFlags(space.exchange));
  client = await serve.client();
  token = await serve.token();
  await connect(client);
  await client.createDir(OBJECT, '/keep');
  kept = bytesOf(CHUNK + 777, 5);
  await writeFile(join(space.exchange, 'kept'), kept);
  const fd = await client.openWrite(OBJECT, KEPT);
  await client.append(fd, join(space.exchange, 'kept'));
  await client.closeWrite(fd);
  await writeFile(join(space.outside, 'secret'), 'outside the exchange dir: never read or written\n');
}, 60_000);

afterAll(async () => {
  await tally.write();
  await client?.close();
  await serve?.stop();
  await sandbox?.close();
  await space?.remove();
});

interface Snapshot {
  drive: Array<[string, string]>;
  data: Record<string, string>;
  exchange: Record<string, string>;
  outside: Record<string, string>;
}

async function snapshot(): Promise<Snapshot> {
  return {
    drive: [...driveFiles(sandbox)].sort(),
    data: await diskSnapshot(serve.dataDir),
    exchange: await diskSnapshot(space.exchange),
    outside: await diskSnapshot(space.outside),
  };
}

function send(method: string, path: string, body?: unknown, options: { token?: string; raw?: string } = {}) {
  const text = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  return withinBound(
    raw(serve.socket, method, path, {
      token: options.token ?? token,
      ...(text === undefined ? {} : { body: text }),
    }),
  );
}

/** The answer, or a failed probe when none comes in time (the service hangs). */
async function withinBound(answer: Promise<RawAnswer>): Promise<RawAnswer> {
  const timeout = sleep(ANSWER_WITHIN_MS).then(() => {
    throw new Error(`no answer within ${ANSWER_WITHIN_MS} ms: the service hangs`);
  });
  return Promise.race([answer, timeout]);
}

/** A clear 4xx in the API's shape with the catalogue's sentence (and one of `codes`, if given). */
function expectRefused(answer: RawAnswer, label: string, codes?: ErrorCode[]): void {
  expect(answer.status, `${label}: ${answer.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${label}: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  const error = (
    answer.body as { error?: { code?: string; message?: string; retryable?: unknown } } | undefined
  )?.error;
  expect(error, `${label}: the API's error shape, got ${answer.text.slice(0, 200)}`).toBeDefined();
  expect(Object.keys(ERRORS), `${label}: ${answer.status} ${answer.text.slice(0, 200)}`).toContain(
    error!.code,
  );
  expect(error!.message, label).toMatch(sentenceOf(error!.code as ErrorCode));
  expect(typeof error!.retryable, label).toBe('boolean');
  // A refusal's code is a client error in the catalogue too (the status itself may be more
  // precise, e.g. 414 or 431 for bad_request).
  expect(ERRORS[error!.code as ErrorCode].status, `${label}: ${error!.code}`).toBeLessThan(500);
  if (codes) expect(codes, `${label}: ${error!.code}`).toContain(error!.code);
}

/** Runs the hostile calls of a probe between two snapshots; every call counts as an input tried. */
async function unchanged(calls: () => Promise<void>, ignore: string[] = []): Promise<void> {
  const before = await snapshot();
  await calls();
  const after = await snapshot();
  for (const name of ignore) {
    delete before.data[name];
    delete after.data[name];
  }
  expect(after).toEqual(before);
}

/** Sends one hostile call (only when its turn comes: nothing may still run during a snapshot). */
async function refuse(label: string, call: Call, codes?: ErrorCode[]): Promise<void> {
  tally.add('inputs');
  expectRefused(await call(), label, codes);
  tally.add('refused');
}

/** Every route that takes a hook path, with `path` in its query or body. */
type Call = () => Promise<RawAnswer>;

function pathRoutes(path: string, encoded = encodeURIComponent(path)): Array<[string, Call]> {
  const routes: Array<[string, Call]> = [
    ['stat', () => send('GET', `${BASE}/stat?path=${encoded}`)],
    ['list', () => send('GET', `${BASE}/list?path=${encoded}`)],
    ['delete file', () => send('DELETE', `${BASE}/files?path=${encoded}`)],
    ['delete dir', () => send('DELETE', `${BASE}/dirs?path=${encoded}`)],
  ];
  if (encoded !== encodeURIComponent(path)) return routes;
  return [
    ...routes,
    ['mkdir', () => send('POST', `${BASE}/dirs`, { path })],
    ['open write', () => send('POST', `${BASE}/writes`, { path })],
    ['open read', () => send('POST', `${BASE}/reads`, { path, offset: 0 })],
  ];
}

const HOSTILE_PATHS: Array<[string, string]> = [
  ['traversal', '/keep/../../etc'],
  ['traversal from the root', '/../secret'],
  ['a dot segment', '/keep/./data.tar'],
  ['an empty segment', '/keep//data.tar'],
  ['a NUL byte', '/keep/data.tar\u0000.evil'],
  ['a C0 control character', '/keep/\u001b[31mred'],
  ['a C1 control character (U+0085)', '/keep/next\u0085line'],
  ['a C1 control character (U+009B, CSI)', '/keep/\u009b31mred'],
  ['a bidi override (U+202E)', '/keep/backup\u202erat.exe'],
  ['a bidi isolate (U+2067)', '/keep/\u2067evil\u2069.tar'],
  ['an over-long name (256 bytes)', `/keep/${'n'.repeat(256)}`],
  ['an over-long name in UTF-8 (86 three-byte characters)', `/keep/${'\u20ac'.repeat(86)}`],
  ['an over-long path (4097 bytes)', `/${'d/'.repeat(2048)}x`],
];

describe('hostile hook paths', () => {
  for (const [label, path] of HOSTILE_PATHS) {
    it(`refuses a path with ${label} on every route, invalid_path, nothing changed`, async () => {
      await unchanged(async () => {
        for (const [route, answer] of pathRoutes(path))
          await refuse(`${route} ${label}`, answer, ['invalid_path']);
      });
    });
  }

  it('refuses encoded traversal (%2e%2e, %2f, double encoding) in queries, nothing changed', async () => {
    await unchanged(async () => {
      for (const encoded of ['%2e%2e%2f%2e%2e%2fetc', '..%2f..%2fetc', '%2E%2E/secret', 'keep%2f..%2f..']) {
        for (const [route, answer] of pathRoutes('', encoded)) {
          await refuse(`${route} ${encoded}`, answer, ['invalid_path']);
        }
      }
      // Decoded once, %252e is the literal name "%2e": a name, not a way out; it is not there.
      await refuse('double encoded', () => send('GET', `${BASE}/stat?path=%252e%252e%252fetc`), [
        'not_found',
      ]);
    });
  });
});

describe('hostile local files', () => {
  let fd: string;
  let readFd: string;
  beforeAll(async () => {
    fd = await client.openWrite(OBJECT, '/keep/target.tar');
    readFd = await client.openRead(OBJECT, KEPT, 0);
  });

  const outsideFiles = (): Array<[string, string]> => [
    ['an absolute path outside', '/etc/passwd'],
    ['the process environment', '/proc/self/environ'],
    ['an endless device', '/dev/zero'],
    ['a relative path', 'relative/file'],
    ['traversal out of the exchange dir', `${space.exchange}/../outside/secret`],
    ['a file beside the exchange dir', join(space.outside, 'secret')],
    ['a NUL byte', `${space.exchange}/kept\u0000/etc/passwd`],
  ];

  it('refuses appends from files outside the exchange dir, nothing changed', async () => {
    await unchanged(async () => {
      for (const [label, localFile] of outsideFiles()) {
        await refuse(`append ${label}`, () => send('POST', `/v1/writes/${fd}/append`, { localFile }), [
          'local_file_forbidden',
          'local_file_error',
        ]);
      }
      await refuse(
        'append encoded traversal',
        () =>
          send('POST', `/v1/writes/${fd}/append`, { localFile: `${space.exchange}/%2e%2e/outside/secret` }),
        ['local_file_forbidden', 'local_file_error'],
      );
    });
  });

  it('refuses reads into files outside the exchange dir, nothing changed', async () => {
    await unchanged(async () => {
      for (const [label, localFile] of outsideFiles()) {
        await refuse(
          `read ${label}`,
          () => send('POST', `/v1/reads/${readFd}/read`, { localFile, size: 10 }),
          ['local_file_forbidden', 'local_file_error'],
        );
      }
    });
  });

  it('refuses a symlink swapped in after the check for an append: the outside file is never uploaded', async () => {
    const swapFd = await client.openWrite(OBJECT, '/keep/swapped.tar');
    const first = bytesOf(2 * CHUNK + 1, 6);
    await writeFile(join(space.exchange, 'swap-first'), first);
    const swap = join(space.exchange, 'swap-second');
    await writeFile(swap, 'an innocent piece\n');
    // The first append holds the fd's lock for two seconds (a slow chunk PUT); the second one is
    // checked at once and waits for the lock, while its path becomes a link to outside.
    sandbox.setFaults('upload.chunk:slow@1');
    const holding = client.append(swapFd, join(space.exchange, 'swap-first'));
    await sleep(200);
    const queued = send('POST', `/v1/writes/${swapFd}/append`, { localFile: swap });
    await sleep(300);
    await rm(swap);
    await symlink(join(space.outside, 'secret'), swap);
    const outsideBefore = await diskSnapshot(space.outside);
    tally.add('inputs');
    try {
      expect(await holding).toBe(first.length);
      const answer = await queued;
      // The refused piece was not appended, so the file would be short: the close must not
      // finish it (upload_incomplete), and nothing of it is left on Drive.
      const closed = await client
        .closeWrite(swapFd)
        .catch((error: { code?: string }) => error.code ?? 'error');
      const item = sandbox.items().find((i) => i.name === 'swapped.tar' && !i.trashed);
      const uploaded = item ? await readFile(sandbox.contentPath(item.id)) : Buffer.alloc(0);
      expect(uploaded.includes(Buffer.from('never read or written')), 'the outside file reached Drive').toBe(
        false,
      );
      expectRefused(answer, 'append through a swapped-in link', ['local_file_forbidden', 'local_file_error']);
      expect(closed).toBe('upload_incomplete');
      expect(item, 'nothing of the aborted upload is on Drive').toBeUndefined();
      expect(await diskSnapshot(space.outside)).toEqual(outsideBefore);
      tally.add('refused');
    } finally {
      sandbox.setFaults('');
      await rm(swap, { force: true });
    }
  });

  it('refuses a symlink swapped in after the check for a read: the outside file is never written', async () => {
    const victim = join(space.outside, 'victim');
    await writeFile(victim, 'an outside file that a restore must not overwrite\n');
    const swapReadFd = await client.openRead(OBJECT, KEPT, 0);
    const target = join(space.exchange, 'read-swapped');
    sandbox.setFaults('files.download:slow@1');
    const holding = client.read(swapReadFd, join(space.exchange, 'read-first'), 1000);
    await sleep(200);
    const queued = send('POST', `/v1/reads/${swapReadFd}/read`, { localFile: target, size: 1000 });
    await sleep(300);
    await symlink(victim, target);
    tally.add('inputs');
    try {
      expect(await holding).toBe(1000);
      const answer = await queued;
      expect(await readFile(victim, 'utf8')).toBe('an outside file that a restore must not overwrite\n');
      expectRefused(answer, 'read through a swapped-in link', ['local_file_forbidden', 'local_file_error']);
      tally.add('refused');
    } finally {
      sandbox.setFaults('');
      await client.closeRead(swapReadFd).catch(() => undefined);
      await rm(target, { force: true });
    }
  });

  it('refuses to append from a FIFO at once (local_file_error), and the service stays responsive', async () => {
    const fifo = join(space.exchange, 'fifo-in');
    await makeFifo(fifo, 0o600);
    try {
      await unchanged(async () => {
        const answer = raw(serve.socket, 'POST', `/v1/writes/${fd}/append`, {
          token,
          body: JSON.stringify({ localFile: fifo }),
        });
        try {
          await refuse('append from a FIFO', () => withinBound(answer), ['local_file_error']);
        } finally {
          await unblockFifo(fifo, 'writer');
          await answer.catch(() => undefined);
        }
        // state.json changes on purpose: the handle now remembers that a piece was refused, so
        // that a close without that piece appended again aborts instead of storing a short file.
      }, ['state.json']);
    } finally {
      await rm(fifo, { force: true });
    }
  });

  it('refuses to read into a FIFO (local_file_error, not a Drive error)', async () => {
    const fifo = join(space.exchange, 'fifo-out');
    await makeFifo(fifo, 0o600);
    const fifoReadFd = await client.openRead(OBJECT, KEPT, 0);
    try {
      const answer = raw(serve.socket, 'POST', `/v1/reads/${fifoReadFd}/read`, {
        token,
        body: JSON.stringify({ localFile: fifo, size: 100 }),
      });
      try {
        await refuse('read into a FIFO', () => withinBound(answer), ['local_file_error']);
      } finally {
        await unblockFifo(fifo, 'reader');
        await answer.catch(() => undefined);
      }
    } finally {
      await client.closeRead(fifoReadFd).catch(() => undefined);
      await rm(fifo, { force: true });
    }
  });
});

/** Opens the other end of a FIFO without blocking, so a service stuck on it gets free. */
async function unblockFifo(fifo: string, as: 'writer' | 'reader'): Promise<void> {
  try {
    const handle = await open(
      fifo,
      (as === 'writer' ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NONBLOCK,
    );
    await handle.close();
  } catch {
    // ENXIO: nobody has the other end open, nothing to free.
  }
}

describe('hostile file handles', () => {
  it('refuses unknown, closed, foreign and doubly closed fds with unknown_handle or wrong_handle_kind', async () => {
    const local = join(space.exchange, 'fd-piece');
    await writeFile(local, 'piece');
    const closedFd = await client.openWrite(OBJECT, '/keep/closed.tar');
    await client.append(closedFd, local);
    await client.closeWrite(closedFd);
    const closedReadFd = await client.openRead(OBJECT, KEPT, 0);
    await client.closeRead(closedReadFd);
    const writeFd = await client.openWrite(OBJECT, '/keep/open.tar');
    const readFd = await client.openRead(OBJECT, KEPT, 0);
    // An fd of another service (another data dir) means nothing here.
    const other = await ServeProcess.start(sandbox, space.dataDir('other'), serviceFlags(space.exchange));
    const otherClient = await other.client();
    let foreignFd: string;
    try {
      await connect(otherClient);
      foreignFd = await otherClient.openWrite(OBJECT, '/keep/foreign.tar');
    } finally {
      await otherClient.close();
      await other.stop();
    }
    const read = { localFile: join(space.exchange, 'fd-out'), size: 10 };
    await unchanged(async () => {
      const cases: Array<[string, Call, ErrorCode[]]> = [
        [
          'append to an unknown fd',
          () => send('POST', '/v1/writes/w-0123456789abcdef0123456789abcdef/append', { localFile: local }),
          ['unknown_handle'],
        ],
        [
          'read an unknown fd',
          () => send('POST', '/v1/reads/r-0123456789abcdef/read', read),
          ['unknown_handle'],
        ],
        [
          'append to a closed fd',
          () => send('POST', `/v1/writes/${closedFd}/append`, { localFile: local }),
          ['unknown_handle'],
        ],
        ['close a closed fd again', () => send('POST', `/v1/writes/${closedFd}/close`), ['unknown_handle']],
        ['read a closed fd', () => send('POST', `/v1/reads/${closedReadFd}/read`, read), ['unknown_handle']],
        [
          'close a closed read fd again',
          () => send('POST', `/v1/reads/${closedReadFd}/close`),
          ['unknown_handle'],
        ],
        [
          "another service's fd",
          () => send('POST', `/v1/writes/${foreignFd}/append`, { localFile: local }),
          ['unknown_handle'],
        ],
        [
          'a read fd on the write route',
          () => send('POST', `/v1/writes/${readFd}/append`, { localFile: local }),
          ['wrong_handle_kind', 'unknown_handle'],
        ],
        [
          'a write fd on the read route',
          () => send('POST', `/v1/reads/${writeFd}/read`, read),
          ['wrong_handle_kind', 'unknown_handle'],
        ],
        [
          'a read fd closed as a write',
          () => send('POST', `/v1/writes/${readFd}/close`),
          ['wrong_handle_kind', 'unknown_handle'],
        ],
        [
          'an fd with traversal',
          () => send('POST', '/v1/writes/..%2f..%2fstate/append', { localFile: local }),
          ['unknown_handle', 'unknown_route', 'bad_request'],
        ],
      ];
      for (const [label, answer, codes] of cases) await refuse(label, answer, codes);
    });
    await client.closeRead(readFd);
  });

  it('a read past the end yields no byte, a read over the end only the rest; bad offsets and sizes are refused', async () => {
    await unchanged(async () => {
      await refuse('a negative offset', () => send('POST', `${BASE}/reads`, { path: KEPT, offset: -1 }), [
        'bad_request',
      ]);
      await refuse(
        'an offset beyond 2^53',
        () => send('POST', `${BASE}/reads`, { path: KEPT, offset: 2 ** 54 }),
        ['bad_request'],
      );
      await refuse(
        'a negative size',
        () => send('POST', '/v1/reads/r-1/read', { localFile: join(space.exchange, 'x'), size: -5 }),
        ['bad_request'],
      );
    });
    // Past the end: like read(2) at end of file, nothing (or a clear refusal), never stray bytes.
    for (const offset of [kept.length, kept.length + 1, 2 ** 52]) {
      tally.add('inputs');
      const opened = await send('POST', `${BASE}/reads`, { path: KEPT, offset });
      if (opened.status !== 200) {
        expectRefused(opened, `offset ${offset}`);
        tally.add('refused');
        continue;
      }
      const fd = (opened.body as { fd: string }).fd;
      const out = join(space.exchange, `past-${offset}`);
      expect(await client.read(fd, out, 10)).toBe(0);
      expect((await readFile(out).catch(() => Buffer.alloc(0))).length).toBe(0);
      await client.closeRead(fd);
      await rm(out, { force: true });
      tally.add('handled');
    }
    tally.add('inputs');
    const tail = await client.openRead(OBJECT, KEPT, kept.length - 10);
    const out = join(space.exchange, 'over-the-end');
    expect(await client.read(tail, out, 1000)).toBe(10);
    expect((await readFile(out)).equals(kept.subarray(kept.length - 10))).toBe(true);
    await client.closeRead(tail);
    tally.add('handled');
  });

  it('serialises concurrent appends on one fd: each piece whole, one after the other, never interleaved', async () => {
    const a = bytesOf(3 * CHUNK + 11, 21);
    const b = bytesOf(2 * CHUNK + 7, 22);
    await writeFile(join(space.exchange, 'conc-a'), a);
    await writeFile(join(space.exchange, 'conc-b'), b);
    const concFd = await client.openWrite(OBJECT, '/keep/concurrent.tar');
    tally.add('inputs');
    const answers = await Promise.all([
      send('POST', `/v1/writes/${concFd}/append`, { localFile: join(space.exchange, 'conc-a') }),
      send('POST', `/v1/writes/${concFd}/append`, { localFile: join(space.exchange, 'conc-b') }),
    ]);
    for (const answer of answers) if (answer.status !== 200) expectRefused(answer, 'a concurrent append');
    const done = [answers[0]!.status === 200 ? a : null, answers[1]!.status === 200 ? b : null].filter(
      (x): x is Buffer => x !== null,
    );
    const result = await client.closeWrite(concFd);
    const item = sandbox.items().find((i) => i.name === 'concurrent.tar' && !i.trashed)!;
    const onDrive = await readFile(sandbox.contentPath(item.id));
    const orders = done.length === 2 ? [Buffer.concat([a, b]), Buffer.concat([b, a])] : [Buffer.concat(done)];
    expect(orders.some((order) => order.equals(onDrive))).toBe(true);
    expect(result.size).toBe(onDrive.length);
    tally.add('handled');
  });
});

describe('hostile requests', () => {
  it('refuses malformed, mistyped and unknown-field bodies, bad objects, unknown routes and missing tokens', async () => {
    await unchanged(async () => {
      const cases: Array<[string, Call]> = [
        ['malformed JSON', () => send('POST', `${BASE}/dirs`, undefined, { raw: '{"path": ' })],
        ['a JSON string body', () => send('POST', `${BASE}/dirs`, undefined, { raw: '"/x"' })],
        ['a JSON array body', () => send('POST', `${BASE}/writes`, undefined, { raw: '[1,2]' })],
        ['a number for a path', () => send('POST', `${BASE}/writes`, { path: 5 })],
        ['an unknown field', () => send('POST', `${BASE}/dirs`, { path: '/x', recursive: true })],
        ['a string offset', () => send('POST', `${BASE}/reads`, { path: KEPT, offset: '0' })],
        ['a fractional offset', () => send('POST', `${BASE}/reads`, { path: KEPT, offset: 0.5 })],
        ['a missing localFile', () => send('POST', '/v1/writes/w-1/append', {})],
        [
          'a prototype-polluting body',
          () => send('POST', `${BASE}/dirs`, undefined, { raw: '{"path":"/x","__proto__":{"admin":true}}' }),
        ],
        [
          'a path in a huge string (8193 bytes)',
          () => send('POST', `${BASE}/writes`, { path: `/${'y'.repeat(8192)}` }),
        ],
        ['an invalid object', () => send('GET', '/v1/objects/planet:9/list?path=/')],
        [
          'an object with traversal',
          () => send('GET', `/v1/objects/${encodeURIComponent('../../etc')}/list?path=/`),
        ],
        ['an unknown route', () => send('GET', '/v1/../../etc/passwd')],
        ['no token', () => send('GET', `${BASE}/list?path=/`, undefined, { token: '' })],
        ['a wrong token', () => send('GET', `${BASE}/list?path=/`, undefined, { token: 'x'.repeat(64) })],
      ];
      for (const [label, answer] of cases) {
        await refuse(label, answer, [
          'bad_request',
          'invalid_path',
          'invalid_object',
          'unknown_route',
          'unauthorized',
        ]);
      }
    });
  });

  it('answers an oversized body (2 MiB, beyond the body limit) with a 4xx in the API error shape', async () => {
    await unchanged(async () => {
      await refuse(
        'an oversized body (2 MiB)',
        () =>
          withinBound(
            rawHttp(
              serve.socket,
              `POST ${BASE}/dirs HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json`,
              Buffer.from(JSON.stringify({ path: `/${'x'.repeat(2 * 1024 * 1024)}` })),
            ),
          ),
        ['bad_request'],
      );
    });
  });

  it('answers an over-long URL (414) and over-long headers (431) in the API error shape', async () => {
    await unchanged(async () => {
      await refuse('an over-long fd (300 characters)', () =>
        send('POST', `/v1/writes/w-${'0'.repeat(300)}/append`, { localFile: join(space.exchange, 'kept') }),
      );
      await refuse('a 100 KB URL', () => send('GET', `${BASE}/stat?path=/${'u'.repeat(100_000)}`));
      await refuse('a 100 KB header', () =>
        withinBound(
          rawHttp(
            serve.socket,
            `GET /v1/health HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\nx-padding: ${'p'.repeat(100_000)}`,
          ),
        ),
      );
    });
  });
});

describe('hostile OAuth answers', () => {
  const other = { type: 'customer', id: '5' } as const;

  async function consent(object: {
    type: string;
    id: string | null;
  }): Promise<{ state: string; code: string }> {
    const { url } = await client.oauthStart(object as typeof OBJECT, {
      redirectUri: 'http://127.0.0.1:9/callback',
    });
    const answer = await answerConsent(url);
    if (!('code' in answer)) throw new Error(`consent refused: ${answer.error}`);
    return answer;
  }

  const finish = (object: string, body: unknown) => send('POST', `/v1/objects/${object}/oauth/finish`, body);

  it('refuses a replayed state, a forged state and a state of another object; the account stays as it was', async () => {
    const used = await consent(OBJECT);
    await client.oauthFinish(OBJECT, used);
    const mine = await consent(OBJECT);
    await unchanged(async () => {
      await refuse('a replayed state and code', () => finish('subscription:10', used), [
        'oauth_state_invalid',
      ]);
      await refuse('a forged state', () => finish('subscription:10', { state: 'forged', code: used.code }), [
        'oauth_state_invalid',
      ]);
      await refuse("another object's state", () => finish('customer:5', mine), ['oauth_state_invalid']);
      // A state is single use: a refused answer may use it up (in state.json); nothing else changes.
    }, ['state.json']);
    expect(await client.account(OBJECT)).toMatchObject({ connected: true, email: 'admin@example.com' });
    expect(await client.account(other)).toEqual({ connected: false });
  });

  it('refuses a replayed code and a code of another consent with a 4xx; the account stays as it was', async () => {
    const first = await consent(OBJECT);
    await client.oauthFinish(OBJECT, first);
    const fresh = await consent(OBJECT);
    const foreign = await consent(other);
    const before = await client.account(OBJECT);
    await refuse('a replayed code with a fresh state', () =>
      finish('subscription:10', { state: fresh.state, code: first.code }),
    );
    const again = await consent(OBJECT);
    await refuse("another consent's code", () =>
      finish('subscription:10', { state: again.state, code: foreign.code }),
    );
    expect(await client.account(OBJECT)).toEqual(before);
    expect(await client.account(other)).toEqual({ connected: false });
  });

  it('answers a token endpoint that sends garbage with a clear error in the API shape, not a crash', async () => {
    let garbage = false;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (garbage) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('<html>502 Bad Gateway</html>{"access_token":');
          return;
        }
        fetch(sandbox.env.GDRIVE_OAUTH_TOKEN_URL, {
          method: 'POST',
          headers: { 'content-type': String(req.headers['content-type'] ?? '') },
          body: Buffer.concat(chunks),
        }).then(
          async (answer) => {
            res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? '' });
            res.end(Buffer.from(await answer.arrayBuffer()));
          },
          () => res.destroy(),
        );
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const tokenUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/token`;
    const garbled = await ServeProcess.start(
      { ...sandbox, env: { ...sandbox.env, GDRIVE_OAUTH_TOKEN_URL: tokenUrl } },
      space.dataDir('garbage'),
      serviceFlags(space.exchange),
    );
    const garbledClient = await garbled.client();
    const garbledToken = await garbled.token();
    try {
      const call = (method: string, path: string, body?: unknown) =>
        withinBound(
          raw(garbled.socket, method, path, {
            token: garbledToken,
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          }),
        );
      // A code exchange answered with garbage.
      garbage = true;
      const { url } = await garbledClient.oauthStart(OBJECT, { redirectUri: 'http://127.0.0.1:9/callback' });
      const answer = await answerConsent(url);
      tally.add('inputs');
      const exchange = await call('POST', `${BASE}/oauth/finish`, answer);
      expectGarbageAnswer(exchange, 'code exchange answered with garbage');
      expect(await garbledClient.account(OBJECT)).toEqual({ connected: false });
      tally.add('refused');
      // A refresh answered with garbage.
      garbage = false;
      await connect(garbledClient);
      sandbox.expireAccessTokens();
      garbage = true;
      tally.add('inputs');
      const refresh = await call('GET', `${BASE}/list?path=/`);
      expectGarbageAnswer(refresh, 'token refresh answered with garbage');
      tally.add('refused');
      garbage = false;
      expect(await garbledClient.account(OBJECT)).toMatchObject({ connected: true });
    } finally {
      await garbledClient.close();
      await garbled.stop();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

/** Google's side failed: a catalogue error other than `internal`, in the API's shape. */
function expectGarbageAnswer(answer: RawAnswer, label: string): void {
  const error = (answer.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  expect(error, `${label}: ${answer.text.slice(0, 200)}`).toBeDefined();
  expect(error!.code, label).not.toBe('internal');
  expect(Object.keys(ERRORS)).toContain(error!.code);
  expect(error!.message, label).toMatch(sentenceOf(error!.code as ErrorCode));
  expect(answer.status, label).toBe(ERRORS[error!.code as ErrorCode].status);
}
