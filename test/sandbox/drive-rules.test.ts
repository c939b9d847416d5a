// Rules where real Drive differs from what a client would naively expect, and which the
// sandbox therefore shows: case-insensitive `name =`, lists that lag behind writes, checksums
// that are only "if available", shared-drive roles. Sources are cited in the sandbox's code
// and in shared/reference/google-drive-facts.md.
import { afterEach, describe, expect, it } from 'vitest';
import { parseQuery } from '../../connector/sandbox/query-parser.js';
import { createFolder, type Harness, harness, uploadFile } from './helpers.js';

type FileList = { files: Array<{ id: string; name: string }> };

const listQ = (q: string, extra = '&fields=files(id,name)'): string =>
  `drive/v3/files?q=${encodeURIComponent(q)}${extra}`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("name = '...' is case-insensitive, as on Drive", () => {
  it('matches names that differ only in case, both ways; != is its negation', async () => {
    h = await harness();
    const parent = await createFolder(h, 'p');
    await createFolder(h, 'Backup.tar', parent);
    await createFolder(h, 'backup.TAR', parent);
    await createFolder(h, 'other', parent);
    for (const asked of ['backup.tar', 'BACKUP.TAR', 'Backup.tar']) {
      const { body } = await h.json<FileList>(listQ(`name = '${asked}' and '${parent}' in parents`));
      expect(body.files.map((f) => f.name).sort()).toEqual(['Backup.tar', 'backup.TAR']);
    }
    const { body } = await h.json<FileList>(listQ(`name != 'BACKUP.tar' and '${parent}' in parents`));
    expect(body.files.map((f) => f.name)).toEqual(['other']);
  });

  it('keeps mimeType exact', () => {
    const item = {
      name: 'a',
      mimeType: 'application/octet-stream',
      parents: [],
      trashed: false,
      createdTime: '2026-01-01T00:00:00.000Z',
      modifiedTime: '2026-01-01T00:00:00.000Z',
    };
    expect(parseQuery("name = 'A'")(item)).toBe(true);
    expect(parseQuery("mimeType = 'Application/Octet-Stream'")(item)).toBe(false);
  });

  it('a file uploaded as one case is found by another', async () => {
    h = await harness();
    await uploadFile(h, 'Dump.XML', Buffer.from('x'));
    const { body } = await h.json<FileList>(listQ("name = 'dump.xml'"));
    expect(body.files.map((f) => f.name)).toEqual(['Dump.XML']);
  });
});
