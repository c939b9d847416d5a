import { describe, expect, it } from 'vitest';
import { normalizeHookPath, qLiteral, splitHookPath } from '../../connector/drive/paths.js';
import { GdriveBackupError } from '../../connector/errors/errors.js';

function refusal(path: string): GdriveBackupError {
  try {
    splitHookPath(path);
  } catch (error) {
    if (error instanceof GdriveBackupError) return error;
    throw error;
  }
  throw new Error(`"${path}" was accepted`);
}

describe('hook paths', () => {
  it('normalises the root and leading/trailing slashes', () => {
    expect(splitHookPath('/')).toEqual([]);
    expect(splitHookPath('')).toEqual([]);
    expect(splitHookPath('///')).toEqual([]);
    expect(splitHookPath('/a/b/')).toEqual(['a', 'b']);
    expect(splitHookPath('a/b')).toEqual(['a', 'b']);
    expect(normalizeHookPath('dumps/backup_2411271200.tar/')).toBe('/dumps/backup_2411271200.tar');
  });

  it('keeps names Drive allows: spaces, quotes, backslashes, non-Latin letters, dots inside', () => {
    expect(splitHookPath("/it's a \\ folder/Résumé ёжик 備份/.hidden/a..b")).toEqual([
      "it's a \\ folder",
      'Résumé ёжик 備份',
      '.hidden',
      'a..b',
    ]);
  });

  it.each([
    ['/a/../b', '".." segments are not allowed'],
    ['..', '".." segments are not allowed'],
    ['/a/./b', '"." segments are not allowed'],
    ['/a//b', 'empty segment'],
    ['/a/b\0c', 'NUL byte'],
    ['/a/\nb', 'control character'],
    [`/${'x'.repeat(256)}`, 'longer than 255 bytes'],
    [`/${'é'.repeat(128)}`, 'longer than 255 bytes'],
    [`/${'abcdefgh/'.repeat(460)}`, 'longer than 4096 bytes'],
  ])('refuses %j (%s) with invalid_path', (path, reason) => {
    const error = refusal(path);
    expect(error.code).toBe('invalid_path');
    expect(error.message).toContain(reason);
    expect(error.message).not.toContain('\0');
  });

  it.each([
    ['\u0080', 'a control character (U+0080)'],
    ['\u0085', 'a control character (U+0085)'],
    ['\u009f', 'a control character (U+009F)'],
    ['\u202a', 'an invisible format character (U+202A)'],
    ['\u202e', 'an invisible format character (U+202E)'],
    ['\u2066', 'an invisible format character (U+2066)'],
    ['\u2069', 'an invisible format character (U+2069)'],
    ['\u200b', 'an invisible format character (U+200B)'],
    ['\u200f', 'an invisible format character (U+200F)'],
    ['\ufeff', 'an invisible format character (U+FEFF)'],
    ['\u{e0001}', 'an invisible format character (U+E0001)'],
  ])('refuses %j in a name like C0 controls: %s', (char, reason) => {
    const error = refusal(`/dumps/backup${char}.tar`);
    expect(error.code).toBe('invalid_path');
    expect(error.message).toBe(`The path "/dumps/backup?.tar" is not allowed: it contains ${reason}.`);
  });

  it('keeps visible characters next to the refused ranges', () => {
    expect(splitHookPath('/\u00a0\u00a9\u2010\u2070/x\u00ffy')).toHaveLength(2);
  });

  it('accepts names of exactly 255 bytes', () => {
    expect(splitHookPath(`/${'x'.repeat(255)}`)).toHaveLength(1);
  });

  it('escapes backslashes and quotes in q literals', () => {
    expect(qLiteral("it's")).toBe("'it\\'s'");
    expect(qLiteral('a\\b')).toBe("'a\\\\b'");
    expect(qLiteral("\\'")).toBe("'\\\\\\''");
  });
});
