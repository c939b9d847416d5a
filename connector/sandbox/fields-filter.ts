/**
 * `fields` partial responses, parsed for real and checked against the resource's schema so a
 * misspelt field is Google's 400 `invalidParameter`, not a silently missing value.
 *
 *   selection := item (',' item)*
 *   item      := '*' | path ['(' selection ')']
 *   path      := NAME ('/' NAME)*          -- `user/emailAddress` = `user(emailAddress)`
 */
import { FILE_SCHEMA } from './file-schema.js';
import { badRequest } from './http-io.js';

export { FILE_SCHEMA };

/** A schema names the fields of a resource; `null` = a leaf, `'opaque'` = an object not checked further. */
export interface Schema {
  [field: string]: Schema | null | 'opaque';
}

const leaves = (...names: string[]): Schema => Object.fromEntries(names.map((n) => [n, null]));

export const FILE_LIST_SCHEMA: Schema = {
  ...leaves('kind', 'nextPageToken', 'incompleteSearch'),
  files: FILE_SCHEMA,
};
export const USER_SCHEMA: Schema = leaves(
  'kind',
  'displayName',
  'photoLink',
  'me',
  'permissionId',
  'emailAddress',
);
export const QUOTA_SCHEMA: Schema = leaves('limit', 'usage', 'usageInDrive', 'usageInDriveTrash');
export const ABOUT_SCHEMA: Schema = {
  ...leaves('kind', 'maxUploadSize', 'appInstalled', 'canCreateDrives'),
  user: USER_SCHEMA,
  storageQuota: QUOTA_SCHEMA,
  exportFormats: 'opaque',
  importFormats: 'opaque',
  maxImportSizes: 'opaque',
};
export const DRIVE_SCHEMA: Schema = {
  ...leaves('kind', 'id', 'name', 'createdTime', 'hidden', 'colorRgb', 'themeId', 'backgroundImageLink'),
  capabilities: 'opaque',
  restrictions: 'opaque',
};

/** `true` = the whole value; a nested Selection = only those sub-fields. */
export interface Selection {
  all: boolean;
  fields: Map<string, Selection | true>;
}

function invalid(fields: string, detail: string): Error {
  return badRequest('invalidParameter', `Invalid field selection ${fields}: ${detail}`, 'fields');
}

/** Parses and validates `fields` against `schema`. */
export function parseFields(text: string, schema: Schema): Selection {
  let pos = 0;
  const s = text;

  const skipSpace = (): void => {
    while (pos < s.length && s[pos] === ' ') pos += 1;
  };

  const name = (): string => {
    skipSpace();
    const start = pos;
    while (pos < s.length && /[A-Za-z0-9_]/.test(s[pos]!)) pos += 1;
    if (start === pos) throw invalid(s, `expected a field name at ${pos}`);
    return s.slice(start, pos);
  };

  const selection = (within: Schema | 'opaque'): Selection => {
    const result: Selection = { all: false, fields: new Map() };
    for (;;) {
      skipSpace();
      if (s[pos] === '*') {
        pos += 1;
        result.all = true;
      } else {
        const path = [name()];
        while (s[pos] === '/') {
          pos += 1;
          path.push(name());
        }
        skipSpace();
        let sub: Selection | true = true;
        // Walk the path through the schema, building nested selections.
        let schemaAt: Schema | 'opaque' | null = within;
        let map = result.fields;
        for (let i = 0; i < path.length; i += 1) {
          const key = path[i]!;
          if (schemaAt === null) throw invalid(s, `'${path.slice(0, i).join('/')}' has no sub-fields`);
          if (schemaAt !== 'opaque') {
            if (!(key in schemaAt)) throw invalid(s, `unknown field '${key}'`);
            schemaAt = schemaAt[key]!;
          }
          if (i < path.length - 1) {
            const existing = map.get(key);
            const nested: Selection =
              existing && existing !== true ? existing : { all: existing === true, fields: new Map() };
            map.set(key, nested);
            map = nested.fields;
          }
        }
        if (s[pos] === '(') {
          if (schemaAt === null) throw invalid(s, `'${path.join('/')}' has no sub-fields`);
          pos += 1;
          sub = selection(schemaAt);
          skipSpace();
          if (s[pos] !== ')') throw invalid(s, `expected ')' at ${pos}`);
          pos += 1;
        }
        // `map` is now the one the path's last name belongs in.
        const key = path[path.length - 1]!;
        const prior = map.get(key);
        map.set(key, prior === true || sub === true ? true : mergeSelections(prior, sub));
      }
      skipSpace();
      if (s[pos] === ',') {
        pos += 1;
        continue;
      }
      return result;
    }
  };

  if (s.trim() === '') throw invalid(s, 'empty');
  const parsed = selection(schema);
  skipSpace();
  if (pos !== s.length) throw invalid(s, `unexpected '${s[pos]}' at ${pos}`);
  return parsed;
}

function mergeSelections(a: Selection | undefined, b: Selection): Selection {
  if (!a) return b;
  const fields = new Map(a.fields);
  for (const [k, v] of b.fields) {
    const prior = fields.get(k);
    fields.set(k, prior === true || v === true ? true : mergeSelections(prior, v));
  }
  return { all: a.all || b.all, fields };
}

/** Keeps only the selected fields of `value` (arrays are filtered element by element). */
export function applySelection(value: unknown, selection: Selection): unknown {
  if (Array.isArray(value)) return value.map((v) => applySelection(v, selection));
  if (value === null || typeof value !== 'object') return value;
  if (selection.all) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of selection.fields) {
    if (!(key in source) || source[key] === undefined) continue;
    out[key] = sub === true ? source[key] : applySelection(source[key], sub);
  }
  return out;
}

/** Filters `value` by `fields` (or by `defaults` when the parameter is absent). */
export function project(value: unknown, fields: string | null, defaults: string, schema: Schema): unknown {
  return applySelection(value, parseFields(fields ?? defaults, schema));
}
