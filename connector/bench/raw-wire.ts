/**
 * The yardstick: the same transfers done with nothing but fetch, straight against the sandbox.
 * A resumable upload at its bare minimum (start, fixed-size PUTs, the last one with the total;
 * no hashing, no persisted state, no retry) and a download as one GET streamed to a file. What
 * the connector adds on top of this is what the ratios show.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { SandboxEnv } from './child-processes.js';
import type { Dataset } from './test-data.js';

export interface RawUpload {
  id: string;
  md5: string;
  ms: number;
  /** Requests sent (start + PUTs). */
  requests: number;
}

/** An access token through the sandbox's OAuth code flow (the consent page answers at once). */
export async function rawAccessToken(env: SandboxEnv): Promise<string> {
  const redirectUri = 'http://127.0.0.1:9/callback';
  const consent = new URL(env.GDRIVE_OAUTH_AUTH_URL!);
  consent.search = new URLSearchParams({
    client_id: env.GDRIVE_CLIENT_ID!,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'https://www.googleapis.com/auth/drive.file',
    state: 'bench',
  }).toString();
  const answer = await fetch(consent, { redirect: 'manual' });
  await answer.arrayBuffer();
  const code = new URL(answer.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (!code) throw new Error(`the sandbox's consent page answered ${answer.status} without a code`);
  const tokenAnswer = await fetch(env.GDRIVE_OAUTH_TOKEN_URL!, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: env.GDRIVE_CLIENT_ID!,
      client_secret: env.GDRIVE_CLIENT_SECRET!,
    }),
  });
  const body = (await tokenAnswer.json()) as { access_token?: string };
  if (!tokenAnswer.ok || !body.access_token)
    throw new Error(`the sandbox's token endpoint answered ${tokenAnswer.status}`);
  return body.access_token;
}

/** Fills `buffer` from the dataset's files starting at byte `at`; returns the bytes read. */
async function readAt(dataset: Dataset, at: number, buffer: Buffer): Promise<number> {
  const { pieceSize } = dataset;
  let filled = 0;
  while (filled < buffer.length && at + filled < dataset.size) {
    const position = at + filled;
    const index = Math.floor(position / pieceSize);
    const file = await open(dataset.pieces[index]!, 'r');
    try {
      const { bytesRead } = await file.read(
        buffer,
        filled,
        buffer.length - filled,
        position - index * pieceSize,
      );
      if (bytesRead === 0) throw new Error(`${dataset.pieces[index]} is shorter than expected`);
      filled += bytesRead;
    } finally {
      await file.close();
    }
  }
  return filled;
}

export async function rawUpload(
  env: SandboxEnv,
  token: string,
  dataset: Dataset,
  chunkSize: number,
  name: string,
): Promise<RawUpload> {
  const authorization = `Bearer ${token}`;
  const started = performance.now();
  const start = await fetch(
    `${env.GDRIVE_API_ROOT}upload/drive/v3/files?uploadType=resumable&fields=id,md5Checksum,size`,
    {
      method: 'POST',
      headers: {
        authorization,
        'content-type': 'application/json; charset=UTF-8',
        'x-upload-content-length': String(dataset.size),
      },
      body: JSON.stringify({ name }),
    },
  );
  await start.arrayBuffer();
  const session = start.headers.get('location');
  if (!start.ok || !session) throw new Error(`raw upload start answered ${start.status}`);
  let requests = 1;
  const buffer = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(dataset.size, 1)));
  let sent = 0;
  for (;;) {
    const n = await readAt(dataset, sent, buffer);
    const last = sent + n >= dataset.size;
    const answer = await fetch(session, {
      method: 'PUT',
      headers: {
        authorization,
        'content-range': `bytes ${sent}-${sent + n - 1}/${last ? dataset.size : '*'}`,
      },
      body: buffer.subarray(0, n),
    });
    requests++;
    if (last) {
      const file = (await answer.json()) as { id?: string; md5Checksum?: string; size?: string };
      if (answer.status !== 200 && answer.status !== 201)
        throw new Error(`raw upload final PUT answered ${answer.status}`);
      if (Number(file.size) !== dataset.size)
        throw new Error(`raw upload stored ${file.size} bytes of ${dataset.size}`);
      return { id: file.id!, md5: file.md5Checksum ?? '', ms: performance.now() - started, requests };
    }
    await answer.arrayBuffer();
    if (answer.status !== 308) throw new Error(`raw upload PUT answered ${answer.status}`);
    sent += n;
  }
}

/** One GET of the whole file, streamed into `outFile`; returns the bytes and the time. */
export async function rawDownload(
  env: SandboxEnv,
  token: string,
  fileId: string,
  outFile: string,
): Promise<{ bytes: number; ms: number }> {
  const started = performance.now();
  const answer = await fetch(`${env.GDRIVE_API_ROOT}drive/v3/files/${encodeURIComponent(fileId)}?alt=media`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (answer.status !== 200 || !answer.body) throw new Error(`raw download answered ${answer.status}`);
  const out = createWriteStream(outFile, { mode: 0o600 });
  let bytes = 0;
  for await (const chunk of answer.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { bytes, ms: performance.now() - started };
}
