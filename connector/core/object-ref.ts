/**
 * Plesk backup objects as the connector names them: `server`, `reseller:<id>`,
 * `customer:<id>`, `subscription:<id>` (the CLI's `--object` and the HTTP API's `:object`).
 */
import { GdriveBackupError } from '../errors/errors.js';

export const OBJECT_TYPES = ['server', 'reseller', 'customer', 'subscription'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

export interface ObjectRef {
  type: ObjectType;
  /** Plesk's numeric id; null for the server. */
  id: string | null;
}

export function parseObjectRef(text: string): ObjectRef {
  if (text === 'server') return { type: 'server', id: null };
  const match = /^(reseller|customer|subscription):([1-9]\d{0,9})$/.exec(text);
  if (!match) throw new GdriveBackupError('invalid_object', { object: text });
  return { type: match[1] as ObjectType, id: match[2]! };
}

export function formatObjectRef(ref: ObjectRef): string {
  return ref.id === null ? ref.type : `${ref.type}:${ref.id}`;
}
