/**
 * Proto3 JSON (https://protobuf.dev/programming-guides/json/) for the messages of the static module
 * (`generated/xds-pb.js`), driven by the field tables gen-protos writes beside it
 * (`generated/xds-descriptor.js`, plain data): no protobufjs reflection and no generated code at run
 * time, so it runs in workerd. Decoded messages (the static module's objects) <-> JSON values:
 * lowerCamelCase names, 64-bit integers as strings, enums by name, bytes as base64, `Any` as
 * `{"@type", ...fields}` (recursively), Duration/Timestamp/FieldMask as strings, Struct/Value/
 * ListValue as plain JSON, wrappers as their bare value.
 *
 * Fields are printed when the decoded message has them (what was on the wire), defaults included
 * (empty lists and maps excepted):
 * proto3 JSON allows printing defaults, and it keeps presence (oneof members, `optional` fields), so
 * bytes -> JSON -> bytes gives the same message. Parsing accepts the JSON name and the field's name.
 * An `Any` whose type the tables lack prints as `{"@type", "value": base64}` and parses back the same
 * way (lossless between two Weft ends; never produced for the types the translator emits).
 */
import { envoy, google, istio, xds } from './pb.ts';
import descriptor from './generated/xds-descriptor.js';
import { base64Decode, base64Encode } from '../identity/pem.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };
type Row = [string, string, string, number, string?];

const REPEATED = 1;
const MAP = 2;

interface Codec {
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): object;
}

const NAMESPACES: Record<string, unknown> = { envoy, google, istio, xds };
const codecs = new Map<string, Codec | null>();

/** The static module's class for a full message name (e.g. `envoy.config.listener.v3.Listener`). */
export function codecFor(typeName: string): Codec | undefined {
  let c = codecs.get(typeName);
  if (c === undefined) {
    let node: unknown = NAMESPACES;
    for (const part of typeName.split('.')) node = node && typeof node === 'object' || typeof node === 'function' ? (node as Record<string, unknown>)[part] : undefined;
    const n = node as Partial<Codec> | undefined;
    c = n && typeof n.encode === 'function' && typeof n.decode === 'function' ? (n as Codec) : null;
    codecs.set(typeName, c);
  }
  return c ?? undefined;
}

/** Whether the tables describe this message type (so an Any of it can be printed as fields). */
export function knowsType(typeName: string): boolean {
  return typeName in descriptor.messages && codecFor(typeName) !== undefined;
}

export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

const byJsonName = new Map<string, Map<string, Row>>();
function rowsByName(typeName: string): Map<string, Row> {
  let m = byJsonName.get(typeName);
  if (!m) {
    m = new Map();
    for (const row of fieldsOf(typeName)) {
      m.set(row[1], row);
      m.set(row[0], row);
    }
    byJsonName.set(typeName, m);
  }
  return m;
}

function fieldsOf(typeName: string): Row[] {
  const rows = descriptor.messages[typeName] as Row[] | undefined;
  if (!rows) throw new Error(`proto3 JSON: unknown message type ${typeName}`);
  return rows;
}

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `google.protobuf.${n}`));
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);

// ---- message -> JSON ----

/** A decoded message of type `typeName` as proto3 JSON. */
export function messageToJson(typeName: string, msg: object): Json {
  const m = msg as Record<string, unknown>;
  switch (typeName) {
    case 'google.protobuf.Any':
      return anyToJson(String(m['typeUrl'] ?? ''), (m['value'] as Uint8Array | undefined) ?? new Uint8Array(0));
    case 'google.protobuf.Duration':
      return durationToJson(Number(m['seconds'] ?? 0), Number(m['nanos'] ?? 0));
    case 'google.protobuf.Timestamp':
      return timestampToJson(Number(m['seconds'] ?? 0), Number(m['nanos'] ?? 0));
    case 'google.protobuf.FieldMask':
      return ((m['paths'] as string[] | undefined) ?? []).map((p) => p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())).join(',');
    case 'google.protobuf.Struct':
    case 'google.protobuf.Value':
    case 'google.protobuf.ListValue':
      return structToJson(typeName, m);
  }
  if (WRAPPERS.has(typeName)) return has(m, 'value') ? valueToJson(fieldsOf(typeName)[0]![2], m['value']) : defaultOf(fieldsOf(typeName)[0]![2]);
  const out: JsonObject = {};
  for (const [prop, json, type, flags] of fieldsOf(typeName)) {
    if (!has(m, prop)) continue;
    const v = m[prop];
    if (v === null || v === undefined) continue;
    // Repeated and map fields have no presence: empty ones are left out (the static module makes them on construction).
    if (flags & MAP) {
      if (Object.keys(v as object).length === 0) continue;
      const o: JsonObject = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = valueToJson(type, x);
      out[json] = o;
    } else if (flags & REPEATED) {
      if ((v as unknown[]).length === 0) continue;
      out[json] = (v as unknown[]).map((x) => valueToJson(type, x));
    } else {
      out[json] = valueToJson(type, v);
    }
  }
  return out;
}

function valueToJson(type: string, v: unknown): Json {
  if (type in descriptor.messages) return messageToJson(type, v as object);
  if (type in descriptor.enums) {
    if (type === 'google.protobuf.NullValue') return null;
    const values = descriptor.enums[type]!;
    for (const name of Object.keys(values)) if (values[name] === v) return name;
    return v as number;
  }
  if (INT64.has(type)) return typeof v === 'object' && v !== null ? String(v) : String(v as number);
  if (type === 'bytes') return base64Encode(v as Uint8Array);
  if (type === 'double' || type === 'float') {
    const n = v as number;
    return Number.isFinite(n) ? n : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  }
  return v as Json;
}

function defaultOf(type: string): Json {
  if (type === 'bool') return false;
  if (type === 'string' || type === 'bytes') return '';
  if (INT64.has(type)) return '0';
  return 0;
}

function anyToJson(typeUrl: string, value: Uint8Array): JsonObject {
  const typeName = typeNameOf(typeUrl);
  const codec = knowsType(typeName) ? codecFor(typeName) : undefined;
  if (!codec) return { '@type': typeUrl, value: base64Encode(value) };
  const body = messageToJson(typeName, codec.decode(value));
  // Well-known types with a non-object JSON form sit under `value` (the spec's rule for Any).
  if (body === null || typeof body !== 'object' || Array.isArray(body) || isSpecial(typeName)) return { '@type': typeUrl, value: body };
  return { '@type': typeUrl, ...body };
}

function isSpecial(typeName: string): boolean {
  return WRAPPERS.has(typeName) || typeName === 'google.protobuf.Duration' || typeName === 'google.protobuf.Timestamp' || typeName === 'google.protobuf.FieldMask' || typeName === 'google.protobuf.Struct' || typeName === 'google.protobuf.Value' || typeName === 'google.protobuf.ListValue' || typeName === 'google.protobuf.Any';
}

function durationToJson(seconds: number, nanos: number): string {
  const negative = seconds < 0 || nanos < 0;
  const s = Math.abs(seconds);
  const n = Math.abs(nanos);
  return `${negative ? '-' : ''}${s}${fraction(n)}s`;
}

/** 0, 3, 6 or 9 fractional digits, as the spec's printers write them. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const nine = String(nanos).padStart(9, '0');
  return `.${nanos % 1e6 === 0 ? nine.slice(0, 3) : nanos % 1e3 === 0 ? nine.slice(0, 6) : nine}`;
}

function timestampToJson(seconds: number, nanos: number): string {
  const iso = new Date(seconds * 1000).toISOString(); // yyyy-mm-ddThh:mm:ss.000Z
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}

function structToJson(typeName: string, m: Record<string, unknown>): Json {
  if (typeName === 'google.protobuf.Struct') {
    const o: JsonObject = {};
    for (const [k, v] of Object.entries((m['fields'] as Record<string, object> | undefined) ?? {})) o[k] = structToJson('google.protobuf.Value', v as Record<string, unknown>);
    return o;
  }
  if (typeName === 'google.protobuf.ListValue') return ((m['values'] as object[] | undefined) ?? []).map((v) => structToJson('google.protobuf.Value', v as Record<string, unknown>));
  if (has(m, 'structValue') && m['structValue']) return structToJson('google.protobuf.Struct', m['structValue'] as Record<string, unknown>);
  if (has(m, 'listValue') && m['listValue']) return structToJson('google.protobuf.ListValue', m['listValue'] as Record<string, unknown>);
  if (has(m, 'numberValue')) return valueToJson('double', m['numberValue']);
  if (has(m, 'stringValue')) return m['stringValue'] as string;
  if (has(m, 'boolValue')) return m['boolValue'] as boolean;
  return null;
}

// ---- JSON -> message ----

/** Proto3 JSON of type `typeName` -> a plain object the static module's `encode` takes. */
export function messageFromJson(typeName: string, json: unknown, path = typeName): Record<string, unknown> {
  switch (typeName) {
    case 'google.protobuf.Any':
      return anyFromJson(json, path);
    case 'google.protobuf.Duration':
      return durationFromJson(json, path);
    case 'google.protobuf.Timestamp':
      return timestampFromJson(json, path);
    case 'google.protobuf.FieldMask':
      if (typeof json !== 'string') throw new Error(`${path}: expected a FieldMask string`);
      return { paths: json === '' ? [] : json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
    case 'google.protobuf.Struct':
      if (!isObject(json)) throw new Error(`${path}: expected a JSON object`);
      return { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, structValue(v, `${path}.${k}`)])) };
    case 'google.protobuf.Value':
      return structValue(json, path);
    case 'google.protobuf.ListValue':
      if (!Array.isArray(json)) throw new Error(`${path}: expected a JSON array`);
      return { values: json.map((v, i) => structValue(v, `${path}[${i}]`)) };
  }
  if (WRAPPERS.has(typeName)) return { value: valueFromJson(fieldsOf(typeName)[0]![2], json, path) };
  if (!isObject(json)) throw new Error(`${path}: expected a JSON object for ${typeName}`);
  const rows = rowsByName(typeName);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(json)) {
    // The JSON name, or the field's proto name (parsers accept both).
    const row = rows.get(key) ?? rows.get(key.replace(/_+(.)/g, (_, c: string) => c.toUpperCase()));
    if (!row) throw new Error(`${path}: ${typeName} has no field ${JSON.stringify(key)}`);
    const [prop, , type, flags, keyType] = row;
    const at = `${path}.${key}`;
    if (v === null && type !== 'google.protobuf.Value') continue; // null: the field's default
    if (flags & MAP) {
      if (!isObject(v)) throw new Error(`${at}: expected a JSON object (map)`);
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (keyType && keyType !== 'string') valueFromJson(keyType, k, `${at}[${k}]`); // key must parse as its type
        o[k] = valueFromJson(type, x, `${at}[${k}]`);
      }
      out[prop] = o;
    } else if (flags & REPEATED) {
      if (!Array.isArray(v)) throw new Error(`${at}: expected a JSON array`);
      out[prop] = v.map((x, i) => valueFromJson(type, x, `${at}[${i}]`));
    } else {
      out[prop] = valueFromJson(type, v, at);
    }
  }
  return out;
}

function valueFromJson(type: string, v: unknown, path: string): unknown {
  if (type in descriptor.messages) return messageFromJson(type, v, path);
  if (type in descriptor.enums) {
    if (type === 'google.protobuf.NullValue') return 0;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    const values = descriptor.enums[type]!;
    if (typeof v === 'string' && has(values, v)) return values[v];
    throw new Error(`${path}: ${JSON.stringify(v)} is not a value of ${type}`);
  }
  switch (type) {
    case 'string':
      if (typeof v !== 'string') throw new Error(`${path}: expected a string`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${path}: expected true or false`);
      return v;
    case 'bytes':
      if (typeof v !== 'string') throw new Error(`${path}: expected base64 bytes`);
      try {
        return base64Decode(v);
      } catch (e) {
        throw new Error(`${path}: ${(e as Error).message}`);
      }
    case 'double':
    case 'float':
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      return toNumber(v, path, false);
  }
  if (INT64.has(type) || INT32.has(type)) return toNumber(v, path, true);
  throw new Error(`${path}: unsupported field type ${type}`);
}

function toNumber(v: unknown, path: string, integer: boolean): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new Error(`${path}: expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
  return n;
}

function anyFromJson(json: unknown, path: string): Record<string, unknown> {
  if (!isObject(json) || typeof json['@type'] !== 'string') throw new Error(`${path}: an Any needs "@type"`);
  const typeUrl = json['@type'];
  const typeName = typeNameOf(typeUrl);
  const codec = knowsType(typeName) ? codecFor(typeName) : undefined;
  if (!codec) {
    const value = json['value'];
    return { typeUrl, value: typeof value === 'string' ? valueFromJson('bytes', value, `${path}.value`) : new Uint8Array(0) };
  }
  const { '@type': _, ...rest } = json;
  const body = isSpecial(typeName) ? messageFromJson(typeName, rest['value'], `${path}.value`) : messageFromJson(typeName, rest, path);
  return { typeUrl, value: codec.encode(body).finish() };
}

function durationFromJson(json: unknown, path: string): Record<string, unknown> {
  const m = typeof json === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (!m) throw new Error(`${path}: expected a duration like "1.5s", got ${JSON.stringify(json)}`);
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]) * sign;
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) * sign : 0;
  return { ...(seconds ? { seconds } : {}), ...(nanos ? { nanos } : {}) };
}

function timestampFromJson(json: unknown, path: string): Record<string, unknown> {
  const m = typeof json === 'string' ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(json) : null;
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) throw new Error(`${path}: expected an RFC 3339 timestamp, got ${JSON.stringify(json)}`);
  const seconds = ms / 1000;
  const nanos = m[2] ? Number(m[2].padEnd(9, '0')) : 0;
  return { ...(seconds ? { seconds } : {}), ...(nanos ? { nanos } : {}) };
}

function structValue(v: unknown, path: string): Record<string, unknown> {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: messageFromJson('google.protobuf.ListValue', v, path) };
  if (isObject(v)) return { structValue: messageFromJson('google.protobuf.Struct', v, path) };
  throw new Error(`${path}: not a JSON value`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
