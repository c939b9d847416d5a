/**
 * Hook paths, normalised and confined to the object's folder.
 *
 * Plesk hands paths relative to the object's storage root ('/' is the root). Drive has no
 * paths of its own, so a path is only ever a list of names looked up one by one under the
 * object's folder: nothing can climb out of it, but `..` and `.` would silently alias other
 * names, so they are refused rather than interpreted. Backslashes are allowed: Drive names may
 * hold them, they are no separator here, and q literals escape them (Plesk never sends them).
 */
import { GdriveBackupError } from '../errors/errors.js';

export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/** The path's names from the object folder down; [] for the root. */
export function splitHookPath(path: string): string[] {
  const refuse = (reason: string): never => {
    throw new GdriveBackupError('invalid_path', { path: printable(path), reason });
  };
  if (typeof path !== 'string') return refuse('it is not a string');
  if (path.includes('\0')) refuse('it contains a NUL byte');
  // Other control characters (C0, DEL, C1) and invisible format characters (bidi overrides,
  // zero-width characters) cannot come from Plesk; they would only confuse listings and logs,
  // or make one name look like another.
  const hidden = firstControlCharacter(path);
  if (hidden !== undefined) refuse(`it contains ${describeControl(hidden)}`);
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) refuse(`it is longer than ${MAX_PATH_BYTES} bytes`);
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return [];
  const names = trimmed.split('/');
  for (const name of names) {
    if (name === '') refuse('it has an empty segment (//)');
    if (name === '.' || name === '..') refuse(`"${name}" segments are not allowed`);
    if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)
      refuse(`a name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return names;
}

/** The canonical form of a hook path: '/' or '/a/b'. */
export function normalizeHookPath(path: string): string {
  return joinHookPath(splitHookPath(path));
}

export function joinHookPath(names: readonly string[]): string {
  return `/${names.join('/')}`;
}

/** Keeps error texts readable when a path is huge or holds control bytes. */
function printable(path: unknown): string {
  const text = replaceControlCharacters(String(path), '?');
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** A string literal for Drive's q language: `\` and `'` escaped with a backslash. */
export function qLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Unicode category Cc (C0 controls, DEL, C1 controls U+0080..U+009F) and Cf (format characters:
 * bidi embeddings and overrides U+202A..U+202E, isolates U+2066..U+2069, zero-width U+200B..U+200F,
 * the BOM U+FEFF, soft hyphen U+00AD, ...): characters that show nothing, or show text other
 * than what is stored.
 */
const CONTROL = /^[\p{Cc}\p{Cf}]$/u;

function isControl(char: string): boolean {
  return CONTROL.test(char);
}

function firstControlCharacter(text: string): string | undefined {
  return [...text].find(isControl);
}

function describeControl(char: string): string {
  const code = char.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return /\p{Cc}/u.test(char) ? `a control character (${hex})` : `an invisible format character (${hex})`;
}

export function hasControlCharacter(text: string): boolean {
  return firstControlCharacter(text) !== undefined;
}

export function replaceControlCharacters(text: string, by: string): string {
  return [...text].map((char) => (isControl(char) ? by : char)).join('');
}
