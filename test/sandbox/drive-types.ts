/**
 * Reads the field tree of a Drive v3 resource from the generated client's type declarations
 * (`@googleapis/drive/build/v3.d.ts`, made by Google from the API's discovery document), so a
 * test can hold the sandbox's `fields` schema against Google's own list. TypeScript 7 has no
 * compiler API in JS, hence this small reader of the one regular shape the generator writes:
 *   export interface Schema$X { name?: TYPE; ... }
 * where TYPE is a primitive, `T[]`, `Array<T>`, `Schema$Y`, an inline `{ ... }`, or a map
 * `{ [key: string]: T }`, each possibly `| null`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Schema } from '../../connector/sandbox/fields-filter.js';

function declarations(): string {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('@googleapis/drive/package.json'));
  return readFileSync(join(dir, 'build', 'v3.d.ts'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

/** The text between the brace at `open` and its partner. */
function braced(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i += 1) {
    if (text[i] === '{') depth += 1;
    if (text[i] === '}') {
      depth -= 1;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  throw new Error('unbalanced braces');
}

/** `name?: TYPE;` members of an interface or inline object body. */
function members(body: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < body.length) {
    const m = /^\s*([A-Za-z_$][\w$]*)\??\s*:\s*/.exec(body.slice(i));
    if (!m) {
      if (body.slice(i).trim() === '') break;
      throw new Error(`cannot read member at: ${body.slice(i, i + 60)}`);
    }
    i += m[0].length;
    let depth = 0;
    const start = i;
    for (; i < body.length; i += 1) {
      const c = body[i];
      if (c === '{' || c === '<' || c === '(' || c === '[') depth += 1;
      if (c === '}' || c === '>' || c === ')' || c === ']') depth -= 1;
      if (c === ';' && depth === 0) break;
    }
    out.push([m[1]!, body.slice(start, i).trim()]);
    i += 1;
  }
  return out;
}

export function resourceSchema(name: string): Schema {
  const text = declarations();
  const interfaces = new Map<string, string>();
  const re = /export interface (Schema\$\w+) \{/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    interfaces.set(m[1]!, braced(text, m.index + m[0].length - 1));
  }

  const typeOf = (type: string, stack: string[]): Schema | null | 'opaque' => {
    let t = type.replace(/\s*\|\s*null\s*$/, '').trim();
    const array = /^Array<([\s\S]*)>$/.exec(t);
    if (array) t = array[1]!.trim();
    if (t.endsWith('[]')) t = t.slice(0, -2).trim();
    if (t.startsWith('{')) {
      const inner = braced(t, 0);
      if (/^\s*\[key: string\]/.test(inner)) return 'opaque';
      return objectOf(inner, stack);
    }
    if (/^Schema\$\w+$/.test(t)) {
      if (stack.includes(t)) return 'opaque';
      const body = interfaces.get(t);
      if (body === undefined) throw new Error(`unknown type ${t}`);
      return objectOf(body, [...stack, t]);
    }
    if (/^(string|number|boolean)$/.test(t)) return null;
    // `any` / `unknown`: free-form JSON.
    return 'opaque';
  };
  const objectOf = (body: string, stack: string[]): Schema =>
    Object.fromEntries(members(body).map(([key, type]) => [key, typeOf(type, stack)]));

  const body = interfaces.get(`Schema$${name}`);
  if (body === undefined) throw new Error(`no Schema$${name} in @googleapis/drive`);
  return objectOf(body, [`Schema$${name}`]);
}
