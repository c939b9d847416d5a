// The layering docs/architecture.md describes, held against the code: the lower layers
// (the shared vocabulary in core/, errors, config, stores, the Drive protocol, OAuth) never
// import from the layers built on them (the transport, the service, the CLI, the demo, the bench).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';

const CONNECTOR = join(import.meta.dirname, '../../connector');
const LOWER = ['core', 'errors', 'config', 'store', 'drive', 'auth'];
const UPPER = ['transport', 'service', 'cli', 'demo', 'bench', 'sandbox'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

it('no module of a lower layer imports from a layer above it', () => {
  const upward: string[] = [];
  for (const layer of LOWER)
    for (const file of sources(join(CONNECTOR, layer))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
        const target = relative(CONNECTOR, join(file, '..', match[1]!)).split('/')[0]!;
        if (UPPER.includes(target)) upward.push(`${relative(CONNECTOR, file)} -> ${match[1]}`);
      }
    }
  expect(upward).toEqual([]);
});

it('the core vocabulary imports nothing but itself', () => {
  for (const file of sources(join(CONNECTOR, 'core')))
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g))
      expect(match[1]!.startsWith('./') || match[1] === '../errors/errors.js', `${file}: ${match[1]}`).toBe(
        true,
      );
});
