// `npm run package`: builds dist/gdrive-backup-<version>.zip, the extension as Plesk
// installs it (`plesk bin extension --install <zip>`):
//
//   meta.xml                          from the project root, <version> set from package.json
//   plib/, htdocs/, _meta/, sbin/,    from extension/ (those present)
//   var/, DESCRIPTION.md, CHANGES.md
//   plib/connector/gdrive-backup.mjs  the whole connector in one minified file (esbuild, with the
//                                     options of scripts/build.mjs), run by the PHP side with Node
//
// No node_modules: everything the connector needs is inside its bundle. Directories get mode
// 0755, files 0644 (0755 when executable in the tree, e.g. sbin/). The package must stay
// within 10 MiB (a product requirement): the script fails above that.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { zipSync } from 'fflate';
import { connectorBuildOptions } from './build.mjs';

const EXTENSION_ID = 'gdrive-backup';
const MAX_PACKAGE_BYTES = 10 * 1024 * 1024;
const EXTENSION_DIRS = ['plib', 'htdocs', '_meta', 'sbin', 'var'];
/** Shown by Plesk's extension catalogue when present. */
const EXTENSION_FILES = ['DESCRIPTION.md', 'CHANGES.md'];
const CONNECTOR_PATH = 'plib/connector/gdrive-backup.mjs';
/** Never shipped, wherever they appear in extension/. */
const SKIPPED = new Set(['node_modules', '.git', '.DS_Store', '.gitkeep']);

const root = fileURLToPath(new URL('..', import.meta.url));

function fail(message) {
  process.stderr.write(`package: ${message}\n`);
  process.exit(1);
}

/** Files under `dir` as [path inside the package, absolute path, mode]. */
function walk(dir, prefix, out) {
  for (const name of readdirSync(dir).sort()) {
    if (SKIPPED.has(name) || name.endsWith('~') || name.endsWith('.swp')) continue;
    const path = join(dir, name);
    const stat = lstatSync(path);
    const inside = `${prefix}/${name}`;
    if (stat.isSymbolicLink()) fail(`${relative(root, path)} is a symbolic link: put the real file there`);
    if (stat.isDirectory()) walk(path, inside, out);
    else if (stat.isFile()) out.push({ name: inside, source: path, executable: (stat.mode & 0o111) !== 0 });
  }
  return out;
}

function metaXml(version) {
  let xml;
  try {
    xml = readFileSync(join(root, 'meta.xml'), 'utf8');
  } catch {
    fail('meta.xml is missing at the project root');
  }
  if (!new RegExp(`<id>\\s*${EXTENSION_ID}\\s*</id>`).test(xml))
    fail(`meta.xml does not have <id>${EXTENSION_ID}</id>`);
  if (!/<version>[^<]*<\/version>/.test(xml)) fail('meta.xml has no <version> element');
  // package.json is the one place the version is kept; the package says the same.
  return xml.replace(/<version>[^<]*<\/version>/, `<version>${version}</version>`);
}

async function bundleConnector() {
  const result = await build({
    ...connectorBuildOptions,
    absWorkingDir: root,
    outfile: CONNECTOR_PATH,
    write: false,
    minify: true,
    sourcemap: false,
  });
  if (result.outputFiles.length !== 1) {
    fail(`esbuild made ${result.outputFiles.length} files; the connector must be one file`);
  }
  return result.outputFiles[0].contents;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const files = [{ name: 'meta.xml', data: new TextEncoder().encode(metaXml(version)), executable: false }];
for (const dir of EXTENSION_DIRS) {
  if (!existsSync(join(root, 'extension', dir))) continue;
  for (const file of walk(join(root, 'extension', dir), dir, [])) {
    if (file.name === CONNECTOR_PATH) fail(`extension/${CONNECTOR_PATH} would be overwritten by the bundle`);
    files.push({ name: file.name, data: readFileSync(file.source), executable: file.executable });
  }
}
for (const name of EXTENSION_FILES) {
  const path = join(root, 'extension', name);
  if (existsSync(path)) files.push({ name, data: readFileSync(path), executable: false });
}
if (!files.some((f) => f.name.startsWith('plib/'))) fail('extension/plib is missing or empty');
files.push({ name: CONNECTOR_PATH, data: await bundleConnector(), executable: false });

// Reproducible when SOURCE_DATE_EPOCH is set (as in reproducible-builds.org).
const mtime = process.env.SOURCE_DATE_EPOCH
  ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000)
  : new Date();
const UNIX = 3;
const DIRECTORY_FLAG = 0x10;
const byName = new Map();
for (const file of files) {
  const parts = file.name.split('/');
  for (let i = 1; i < parts.length; i++) {
    byName.set(`${parts.slice(0, i).join('/')}/`, [
      new Uint8Array(0),
      { os: UNIX, attrs: ((0o40755 << 16) | DIRECTORY_FLAG) >>> 0, mtime },
    ]);
  }
  const mode = file.executable ? 0o100755 : 0o100644;
  byName.set(file.name, [file.data, { os: UNIX, attrs: (mode << 16) >>> 0, mtime, level: 9 }]);
}
// Sorted, so every directory comes before what it holds.
const zip = zipSync(Object.fromEntries([...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

const out = join(root, 'dist', `${EXTENSION_ID}-${version}.zip`);
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(out, zip);

const groups = new Map();
for (const file of files) {
  const top = file.name.includes('/') ? `${file.name.split('/')[0]}/` : file.name;
  const group = groups.get(top) ?? { count: 0, bytes: 0 };
  group.count += 1;
  group.bytes += file.data.length;
  groups.set(top, group);
}
const lines = [`${EXTENSION_ID} ${version}: ${relative(process.cwd(), out) || out}`];
for (const [top, group] of groups) {
  lines.push(
    `  ${top.padEnd(10)} ${String(group.count).padStart(4)} file${group.count === 1 ? ' ' : 's'}  ${size(group.bytes)}`,
  );
}
const connector = files.at(-1);
lines.push(`  connector bundle ${CONNECTOR_PATH}: ${size(connector.data.length)}`);
lines.push(`  zip: ${size(zip.length)} (${files.length} files; at most ${size(MAX_PACKAGE_BYTES)})`);
process.stdout.write(`${lines.join('\n')}\n`);
if (zip.length > MAX_PACKAGE_BYTES)
  fail(`the package is ${size(zip.length)}, more than ${size(MAX_PACKAGE_BYTES)}`);
process.stdout.write(
  `Install on the Plesk server: plesk bin extension --install ${EXTENSION_ID}-${version}.zip\n`,
);
