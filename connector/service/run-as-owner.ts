/**
 * Plesk runs the service as psaadm (from the panel) or as root (from a backup): whichever starts
 * it first, its files and socket must belong to the data dir's owner, or the other one cannot
 * use them. So a root process switches to the data dir's owner (groups, gid, uid, in that
 * order) before it opens anything in there. Users and groups come from /etc/passwd and
 * /etc/group because Node has no getpwuid.
 */
import { readFileSync, statSync } from 'node:fs';

function readTable(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(':'));
  } catch {
    return [];
  }
}

/** Group id of a group name (or a numeric id as text); undefined when unknown. */
export function groupId(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  const row = readTable('/etc/group').find((fields) => fields[0] === name);
  return row?.[2] === undefined ? undefined : Number(row[2]);
}

function supplementaryGroups(uid: number, gid: number): number[] {
  const user = readTable('/etc/passwd').find((fields) => fields[2] === String(uid))?.[0];
  const groups = new Set([gid]);
  if (user !== undefined) {
    for (const fields of readTable('/etc/group')) {
      const members = (fields[3] ?? '').split(',');
      if (members.includes(user) && fields[2] !== undefined) groups.add(Number(fields[2]));
    }
  }
  return [...groups];
}

/**
 * When running as root and `dataDir` exists and belongs to another user, become that user.
 * Returns the uid switched to, or undefined when nothing changed.
 */
export function switchToDataDirOwner(dataDir: string): number | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  let owner: { uid: number; gid: number };
  try {
    owner = statSync(dataDir);
  } catch {
    return undefined; // made by us below, so it will be ours
  }
  if (owner.uid === 0) return undefined;
  process.setgroups?.(supplementaryGroups(owner.uid, owner.gid));
  process.setgid?.(owner.gid);
  process.setuid?.(owner.uid);
  return owner.uid;
}
