// The connector's default exchange dirs on a Plesk server: the system temp dir and DUMP_D of
// psa.conf (Plesk moves its dumps there); elsewhere the temp dir alone, no guessed Plesk path.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, pleskDumpDir } from '../../connector/config/config.js';

const dir = await mkdtemp(join(tmpdir(), 'psa-conf-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('pleskDumpDir', () => {
  it("reads DUMP_D of psa.conf, ignoring comments and other keys' values", async () => {
    const conf = join(dir, 'psa.conf');
    await writeFile(
      conf,
      '# DUMP_D /commented\nDUMP_TMP_D /tmp\nDUMP_D\t/backup/plesk-dumps/ \nPRODUCT_ROOT_D /usr/local/psa\n',
    );
    expect(pleskDumpDir(conf)).toEqual(['/backup/plesk-dumps']);
  });

  it('gives nothing without psa.conf or without DUMP_D', async () => {
    expect(pleskDumpDir(join(dir, 'absent.conf'))).toEqual([]);
    const conf = join(dir, 'other.conf');
    await writeFile(conf, 'PRODUCT_ROOT_D /usr/local/psa\n');
    expect(pleskDumpDir(conf)).toEqual([]);
  });

  it('makes the default exchange dirs the temp dir plus the dump dir of this host, if any', () => {
    const config = loadConfig({ env: {}, readFile: false, flags: {} });
    expect(config.exchangeDirs).toEqual([tmpdir(), ...pleskDumpDir()]);
  });
});
