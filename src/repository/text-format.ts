/**
 * Protobuf text format (what Triton's config.pbtxt is written in), parsed against a message type's
 * reflection (protobufjs): the proto is the schema, so an unknown field, a wrong value type, a bad
 * enum name or a non-repeated field given twice is an error with its line and column.
 *
 * Result: a plain object keyed by proto field names — repeated fields as arrays (from both the
 * `f: [a, b]` list form and the repeated-key form), map fields as records (`{key, value}` entries),
 * enums as their value names, 64-bit integers as numbers (refused beyond ±2^53), messages as
 * objects. Covered: `#` comments, `:` optional before messages, `{}` or `<>` message delimiters,
 * `,`/`;` separators, single- or double-quoted strings with C escapes, adjacent strings joined,
 * decimal/hex/octal integers, floats with `inf`/`nan`/`f` suffix, bools as true/false/t/f/1/0.
 * Not covered (Triton configs do not use them): extensions (`[pkg.ext]`) and `Any` expansion.
 */
import protobuf from 'protobufjs';

export class TextFormatError extends Error {
  constructor(readonly line: number, readonly column: number, message: string) {
    super(`${line}:${column}: ${message}`);
    this.name = 'TextFormatError';
  }
}

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';
interface Token { kind: TokenKind; text: string; value?: string; line: number; column: number }

const PUNCT = new Set(['{', '}', '[', ']', '<', '>', ':', ',', ';', '-']);
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (message: string, at = i): never => {
    throw new TextFormatError(line, at - lineStart + 1, message);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') { line++; i++; lineStart = i; continue; }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    const column = i - lineStart + 1;
    if (c === '"' || c === "'") {
      let value = '';
      let j = i + 1;
      const bytes: number[] = [];
      const flush = () => {
        if (bytes.length > 0) { value += Buffer.from(bytes).toString('utf8'); bytes.length = 0; }
      };
      for (;;) {
        if (j >= text.length || text[j] === '\n') fail('unterminated string', i);
        const ch = text[j]!;
        if (ch === c) break;
        if (ch !== '\\') { flush(); value += ch; j++; continue; }
        const e = text[j + 1];
        if (e === undefined) fail('unterminated string', i);
        if (ESCAPES[e!] !== undefined) { flush(); value += ESCAPES[e!]; j += 2; continue; }
        if (e === 'x' || e === 'X') {
          const hex = /^[0-9a-fA-F]{1,2}/.exec(text.slice(j + 2, j + 4));
          if (!hex) fail('\\x needs hex digits', j);
          bytes.push(parseInt(hex![0], 16));
          j += 2 + hex![0].length;
          continue;
        }
        if (e! >= '0' && e! <= '7') {
          const oct = /^[0-7]{1,3}/.exec(text.slice(j + 1, j + 4))![0];
          bytes.push(parseInt(oct, 8) & 0xff);
          j += 1 + oct.length;
          continue;
        }
        if (e === 'u' || e === 'U') {
          const n = e === 'u' ? 4 : 8;
          const hex = text.slice(j + 2, j + 2 + n);
          if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`\\${e} needs ${n} hex digits`, j);
          flush();
          value += String.fromCodePoint(parseInt(hex, 16));
          j += 2 + n;
          continue;
        }
        fail(`unknown escape \\${e}`, j);
      }
      flush();
      tokens.push({ kind: 'string', text: text.slice(i, j + 1), value, line, column });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i, i + 256))!;
      tokens.push({ kind: 'ident', text: m[0], line, column });
      i += m[0].length;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const m = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fF]?)/.exec(text.slice(i, i + 128));
      if (!m) fail(`unexpected character "${c}"`);
      tokens.push({ kind: 'number', text: m![0], line, column });
      i += m![0].length;
      continue;
    }
    if (PUNCT.has(c)) {
      tokens.push({ kind: 'punct', text: c, line, column });
      i++;
      continue;
    }
    fail(`unexpected character "${c}"`);
  }
  tokens.push({ kind: 'eof', text: 'end of input', line, column: i - lineStart + 1 });
  return tokens;
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1], sint32: [-(2 ** 31), 2 ** 31 - 1], sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1], fixed32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER], fixed64: [0, Number.MAX_SAFE_INTEGER],
};

type Value = unknown;
type Message = Record<string, Value>;

class Parser {
  #pos = 0;
  constructor(private readonly tokens: Token[]) {}

  get #peek(): Token { return this.tokens[this.#pos]!; }
  #next(): Token { return this.tokens[this.#pos++]!; }
  #fail(token: Token, message: string): never { throw new TextFormatError(token.line, token.column, message); }
  #accept(text: string): boolean {
    if (this.#peek.kind === 'punct' && this.#peek.text === text) { this.#pos++; return true; }
    return false;
  }
  #expect(text: string): void {
    if (!this.#accept(text)) this.#fail(this.#peek, `expected "${text}", found "${this.#peek.text}"`);
  }

  /** Fields until `end` ('eof', '}' or '>'). */
  message(type: protobuf.Type, end: string): Message {
    const out: Message = {};
    const setFields = new Set<string>();
    const oneofs = new Map<string, string>();
    for (;;) {
      const token = this.#peek;
      if (end === 'eof' ? token.kind === 'eof' : token.kind === 'punct' && token.text === end) break;
      if (token.kind === 'eof') this.#fail(token, `expected "${end}" before the end of input`);
      if (token.kind === 'punct' && token.text === '[') this.#fail(token, 'extensions and Any fields are not supported');
      if (token.kind !== 'ident') this.#fail(token, `expected a field name, found "${token.text}"`);
      this.#pos++;
      const field = type.fields[token.text];
      if (!field) this.#fail(token, `message ${type.name} has no field "${token.text}"`);
      const repeated = field!.repeated || field!.map;
      if (!repeated) {
        if (setFields.has(field!.name)) this.#fail(token, `non-repeated field "${field!.name}" is given more than once`);
        setFields.add(field!.name);
        const oneof = field!.partOf?.name;
        if (oneof) {
          const other = oneofs.get(oneof);
          if (other !== undefined) this.#fail(token, `field "${field!.name}" and field "${other}" are both members of oneof "${oneof}"`);
          oneofs.set(oneof, field!.name);
        }
      }
      this.#fieldValue(field!, out);
      if (!this.#accept(',')) this.#accept(';');
    }
    return out;
  }

  #fieldValue(field: protobuf.Field, out: Message): void {
    const isMessage = field.map || field.resolvedType instanceof protobuf.Type;
    const hadColon = this.#accept(':');
    if (!isMessage && !hadColon) this.#fail(this.#peek, `expected ":" after field "${field.name}"`);
    const readOne = (): Value => (isMessage ? this.#messageValue(field) : this.#scalar(field));
    if (this.#accept('[')) {
      if (!field.repeated && !field.map) this.#fail(this.tokens[this.#pos - 1]!, `field "${field.name}" is not repeated and cannot take a list`);
      const items: Value[] = [];
      if (!this.#accept(']')) {
        do items.push(readOne()); while (this.#accept(','));
        this.#expect(']');
      }
      for (const item of items) this.#store(field, out, item);
      return;
    }
    this.#store(field, out, readOne());
  }

  #store(field: protobuf.Field, out: Message, value: Value): void {
    if (field.map) {
      const entry = value as { key: unknown; value: unknown };
      const map = (out[field.name] ??= {}) as Record<string, unknown>;
      map[String(entry.key)] = entry.value;
    } else if (field.repeated) {
      ((out[field.name] ??= []) as Value[]).push(value);
    } else {
      out[field.name] = value;
    }
  }

  #messageValue(field: protobuf.Field): Value {
    const open = this.#peek;
    const close = this.#accept('{') ? '}' : this.#accept('<') ? '>' : this.#fail(open, `expected "{" to open message field "${field.name}", found "${open.text}"`);
    if (field.map) {
      const mapField = field as unknown as protobuf.MapField;
      const entryType = new protobuf.Type(`${field.name}Entry`)
        .add(new protobuf.Field('key', 1, mapField.keyType))
        .add(new protobuf.Field('value', 2, mapField.type));
      // Resolve the value's type in the scope of the map field's own message.
      entryType.fields.value!.resolvedType = mapField.resolvedType;
      const entry = this.message(entryType, close);
      this.#expect(close);
      if (entry.key === undefined) this.#fail(open, `map field "${field.name}": an entry has no key`);
      const value = entry.value ?? (mapField.resolvedType instanceof protobuf.Type ? {} : defaultScalar(mapField.type, mapField.resolvedType));
      return { key: entry.key, value };
    }
    const result = this.message(field.resolvedType as protobuf.Type, close);
    this.#expect(close);
    return result;
  }

  #scalar(field: protobuf.Field): Value {
    const negative = this.#accept('-');
    const token = this.#next();
    const type = field.type;
    if (field.resolvedType instanceof protobuf.Enum) {
      const e = field.resolvedType;
      if (token.kind === 'ident' && !negative) {
        if (e.values[token.text] === undefined) this.#fail(token, `enum ${e.name} has no value "${token.text}" (field "${field.name}")`);
        return token.text;
      }
      if (token.kind === 'number' && /^\d+$/.test(token.text)) {
        const name = e.valuesById[(negative ? -1 : 1) * Number(token.text)];
        if (name === undefined) this.#fail(token, `enum ${e.name} has no value ${negative ? '-' : ''}${token.text} (field "${field.name}")`);
        return name;
      }
      return this.#fail(token, `expected an enum ${e.name} value for field "${field.name}", found "${token.text}"`);
    }
    if (type === 'string' || type === 'bytes') {
      if (token.kind !== 'string' || negative) this.#fail(token, `expected a string for field "${field.name}", found "${token.text}"`);
      let value = token.value!;
      while (this.#peek.kind === 'string') value += this.#next().value!; // adjacent strings join
      return value;
    }
    if (type === 'bool') {
      if (!negative && (token.kind === 'ident' || token.kind === 'number')) {
        if (['true', 'True', 't', '1'].includes(token.text)) return true;
        if (['false', 'False', 'f', '0'].includes(token.text)) return false;
      }
      return this.#fail(token, `expected true or false for field "${field.name}", found "${token.text}"`);
    }
    if (type === 'float' || type === 'double') {
      if (token.kind === 'ident' && /^(inf|infinity|nan)$/i.test(token.text)) {
        const v = /^nan$/i.test(token.text) ? NaN : Infinity;
        return negative ? -v : v;
      }
      if (token.kind !== 'number') this.#fail(token, `expected a number for field "${field.name}", found "${token.text}"`);
      const v = /^0[xX]/.test(token.text) ? parseInt(token.text, 16) : parseFloat(token.text.replace(/[fF]$/, ''));
      return negative ? -v : v;
    }
    const range = INT_RANGES[type];
    if (!range) return this.#fail(token, `field "${field.name}" has unsupported type ${type}`);
    if (token.kind !== 'number' || !/^(0[xX][0-9a-fA-F]+|\d+)$/.test(token.text)) {
      this.#fail(token, `expected an integer for field "${field.name}", found "${negative ? '-' : ''}${token.text}"`);
    }
    const text = token.text;
    const magnitude = /^0[xX]/.test(text) ? BigInt(text) : /^0[0-7]+$/.test(text) ? BigInt(`0o${text.slice(1)}`) : BigInt(text);
    const value = negative ? -magnitude : magnitude;
    if (value < BigInt(range[0]) || value > BigInt(range[1])) {
      this.#fail(token, `${negative ? '-' : ''}${text} is out of range for field "${field.name}" (${type}${type.endsWith('64') ? ', limited to ±2^53 here' : ''})`);
    }
    return Number(value);
  }
}

function defaultScalar(type: string, resolved: protobuf.ReflectionObject | null): Value {
  if (resolved instanceof protobuf.Enum) return Object.keys(resolved.values)[0];
  if (type === 'string' || type === 'bytes') return '';
  if (type === 'bool') return false;
  return 0;
}

/** Parses `text` as a `type` message in protobuf text format; throws TextFormatError (line:column). */
export function parseTextFormat(text: string, type: protobuf.Type): Record<string, unknown> {
  const parser = new Parser(tokenize(text));
  return parser.message(type, 'eof');
}
