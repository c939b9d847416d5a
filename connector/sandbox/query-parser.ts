/**
 * The `q` search language of files.list, parsed for real (tokenizer + recursive-descent
 * grammar) so that a client that forgets to escape a quote or a backslash in a name gets the
 * 400 Google would give, instead of a lucky match.
 *
 *   query   := or
 *   or      := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' or ')' | term
 *   term    := STRING 'in' 'parents'
 *            | ('name' | 'mimeType') ('=' | '!=' | 'contains') STRING
 *            | 'trashed' ('=' | '!=') ('true' | 'false')
 *            | ('createdTime' | 'modifiedTime') ('=' | '!=' | '<' | '<=' | '>' | '>=') STRING
 *   STRING  := "'" (any char but ' and \ | "\'" | "\\")* "'"
 * Keywords are case-sensitive except and/or/not, as in Drive. `'root' in parents` names My Drive.
 *
 * `name = 'x'` (and `!=`) compares names case-insensitively, as Drive does: rclone's drive
 * backend re-checks every hit of its `name = ...` queries against the exact name because "the
 * `=` operator is case insensitive" (backend/drive/drive.go, Fs.list, rclone commit 64ab1ac3).
 * `mimeType` compares exactly. Case folding here is JavaScript's toLowerCase, which is close to,
 * not provably the same as, Google's.
 */

export interface QueryItem {
  name: string;
  mimeType: string;
  parents: readonly string[];
  trashed: boolean;
  createdTime: string;
  modifiedTime: string;
}

export type Predicate = (item: QueryItem) => boolean;

export class QueryError extends Error {}

type Token =
  | { type: 'string'; value: string; at: number }
  | { type: 'word'; value: string; at: number }
  | { type: 'op'; value: string; at: number }
  | { type: 'paren'; value: '(' | ')'; at: number };

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
    } else if (c === "'") {
      const at = i;
      let value = '';
      i += 1;
      for (;;) {
        if (i >= q.length) throw new QueryError(`unterminated string literal at ${at}`);
        const d = q[i]!;
        if (d === "'") {
          i += 1;
          break;
        }
        if (d === '\\') {
          const e = q[i + 1];
          if (e !== "'" && e !== '\\') throw new QueryError(`invalid escape at ${i}`);
          value += e;
          i += 2;
        } else {
          value += d;
          i += 1;
        }
      }
      tokens.push({ type: 'string', value, at });
    } else if (c === '(' || c === ')') {
      tokens.push({ type: 'paren', value: c, at: i });
      i += 1;
    } else if (c === '=' || c === '<' || c === '>' || c === '!') {
      const two = q.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=') {
        tokens.push({ type: 'op', value: two, at: i });
        i += 2;
      } else if (c === '!') {
        throw new QueryError(`unexpected '!' at ${i}`);
      } else {
        tokens.push({ type: 'op', value: c, at: i });
        i += 1;
      }
    } else if (/[A-Za-z_]/.test(c)) {
      const at = i;
      while (i < q.length && /[A-Za-z0-9_]/.test(q[i]!)) i += 1;
      tokens.push({ type: 'word', value: q.slice(at, i), at });
    } else {
      throw new QueryError(`unexpected character '${c}' at ${i}`);
    }
  }
  return tokens;
}

class Parser {
  private pos = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly resolveId: (id: string) => string,
  ) {}

  parse(): Predicate {
    const predicate = this.or();
    const rest = this.tokens[this.pos];
    if (rest) throw new QueryError(`unexpected '${rest.value}' at ${rest.at}`);
    return predicate;
  }

  private peekWord(word: string): boolean {
    const t = this.tokens[this.pos];
    return t?.type === 'word' && t.value.toLowerCase() === word;
  }

  private next(): Token {
    const t = this.tokens[this.pos];
    if (!t) throw new QueryError('unexpected end of query');
    this.pos += 1;
    return t;
  }

  private or(): Predicate {
    const parts = [this.and()];
    while (this.peekWord('or')) {
      this.pos += 1;
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0]! : (item) => parts.some((p) => p(item));
  }

  private and(): Predicate {
    const parts = [this.unary()];
    while (this.peekWord('and')) {
      this.pos += 1;
      parts.push(this.unary());
    }
    return parts.length === 1 ? parts[0]! : (item) => parts.every((p) => p(item));
  }

  private unary(): Predicate {
    if (this.peekWord('not')) {
      this.pos += 1;
      const inner = this.unary();
      return (item) => !inner(item);
    }
    const t = this.tokens[this.pos];
    if (t?.type === 'paren' && t.value === '(') {
      this.pos += 1;
      const inner = this.or();
      const close = this.next();
      if (close.type !== 'paren' || close.value !== ')') throw new QueryError(`expected ')' at ${close.at}`);
      return inner;
    }
    return this.term();
  }

  private expectString(): string {
    const t = this.next();
    if (t.type !== 'string') throw new QueryError(`expected a quoted string at ${t.at}`);
    return t.value;
  }

  private term(): Predicate {
    const first = this.next();
    if (first.type === 'string') {
      const inWord = this.next();
      if (inWord.type !== 'word' || inWord.value !== 'in')
        throw new QueryError(`expected 'in' at ${inWord.at}`);
      const field = this.next();
      if (field.type !== 'word' || field.value !== 'parents') {
        throw new QueryError(`only 'in parents' is supported, at ${field.at}`);
      }
      const id = this.resolveId(first.value);
      return (item) => item.parents.includes(id);
    }
    if (first.type !== 'word') throw new QueryError(`expected a field at ${first.at}`);
    const op = this.next();
    const opValue = op.type === 'op' || (op.type === 'word' && op.value === 'contains') ? op.value : null;
    if (opValue === null) throw new QueryError(`expected an operator at ${op.at}`);
    switch (first.value) {
      case 'name':
      case 'mimeType': {
        const key = first.value;
        const value = this.expectString();
        const same =
          key === 'name'
            ? (item: QueryItem) => item.name.toLowerCase() === value.toLowerCase()
            : (item: QueryItem) => item.mimeType === value;
        if (opValue === '=') return same;
        if (opValue === '!=') return (item) => !same(item);
        if (opValue === 'contains') return (item) => item[key].includes(value);
        throw new QueryError(`operator ${opValue} is not valid for ${key}`);
      }
      case 'trashed': {
        const v = this.next();
        if (v.type !== 'word' || (v.value !== 'true' && v.value !== 'false')) {
          throw new QueryError(`trashed compares with true or false, at ${v.at}`);
        }
        const want = v.value === 'true';
        if (opValue === '=') return (item) => item.trashed === want;
        if (opValue === '!=') return (item) => item.trashed !== want;
        throw new QueryError(`operator ${opValue} is not valid for trashed`);
      }
      case 'createdTime':
      case 'modifiedTime': {
        const key = first.value;
        const raw = this.expectString();
        const when = Date.parse(raw);
        if (Number.isNaN(when)) throw new QueryError(`invalid date '${raw}'`);
        const cmp: Record<string, (a: number) => boolean> = {
          '=': (a) => a === when,
          '!=': (a) => a !== when,
          '<': (a) => a < when,
          '<=': (a) => a <= when,
          '>': (a) => a > when,
          '>=': (a) => a >= when,
        };
        const test = cmp[opValue];
        if (!test) throw new QueryError(`operator ${opValue} is not valid for ${key}`);
        return (item) => test(Date.parse(item[key]));
      }
      default:
        throw new QueryError(`unknown field '${first.value}' at ${first.at}`);
    }
  }
}

/** Parses a `q` string into a predicate; throws QueryError for anything Drive would refuse. */
export function parseQuery(q: string, resolveId: (id: string) => string = (id) => id): Predicate {
  const tokens = tokenize(q);
  if (tokens.length === 0) return () => true;
  return new Parser(tokens, resolveId).parse();
}
