// A real full disk for restore tests: a 64 KiB tmpfs mounted in a directory of the test's own.
// A write past 64 KiB then fails with ENOSPC exactly as on a full partition (a device like
// /dev/full is no longer a fair stand-in: restore targets must be regular files). Mounting needs
// root, which CI has; elsewhere the tests that use it are not run (canMountTmpfs says why).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const canMountTmpfs = process.getuid?.() === 0;

export interface FullDisk {
  /** The mounted directory: files written here hit ENOSPC after 64 KiB. */
  dir: string;
  unmount(): void;
}

export function mountFullDisk(parent: string): FullDisk {
  const dir = join(parent, 'full-disk');
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0777', 'tmpfs', dir]);
  return { dir, unmount: () => execFileSync('umount', ['-l', dir]) };
}
