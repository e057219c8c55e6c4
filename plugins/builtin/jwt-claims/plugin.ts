/**
 * jwt-claims: copies claims of the request's JWT into request headers, so upstreams read
 * `x-user: ada` instead of decoding tokens.
 *
 * It does NOT verify the token's signature. It must run after the mesh has verified it: Weft's
 * proxy applies RequestAuthentication (JWKS signature, issuer, audience, expiry) before any filter,
 * so by phase AUTHN a token that is present has been checked. Without a RequestAuthentication for
 * the workload, a client could forge claims: do not deploy it alone.
 *
 * Every mapped header is always written or removed, never left as the client sent it, so a client
 * cannot inject `x-user` by sending it.
 */
import { removeRequestHeader, requestHeader, setRequestHeader } from '../../sdk/http.ts';
import { action, config, defineFilter, log, type Action, type Phases } from '../../sdk/index.ts';

/**
 * A config error: logged (the host shows the guest's log, while a thrown error reaches it only as a
 * trap), then thrown, so the load fails or the call fails by the failStrategy.
 */
function configError(message: string): never {
  log.error(message);
  throw new Error(message);
}

interface JwtClaimsConfig {
  /** claim path (dots for nesting: `realm_access.roles`) -> request header name */
  claims: Record<string, string>;
  /** header carrying the token; default `authorization` (with or without `Bearer `) */
  fromHeader?: string;
  /** remove the token's header after reading it (the upstream then never sees the token) */
  removeAuthorization?: boolean;
}

interface Mapping {
  path: string[];
  header: string;
}

interface Settings {
  mappings: Mapping[];
  from: string;
  removeFrom: boolean;
}

let settings: Settings | undefined;

function load(): Settings {
  const c = config<JwtClaimsConfig>();
  if (!c.claims || typeof c.claims !== 'object') configError('jwt-claims: config.claims (claim path -> header name) is required');
  const mappings: Mapping[] = [];
  for (const path in c.claims) mappings.push({ path: path.split('.'), header: String(c.claims[path]).toLowerCase() });
  return { mappings, from: (c.fromHeader ?? 'authorization').toLowerCase(), removeFrom: c.removeAuthorization === true };
}

// ---- base64url -> UTF-8 text, without a per-call table or regex ----

const B64 = new Int16Array(128).fill(-1);
{
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (let i = 0; i < 62; i++) B64[alphabet.charCodeAt(i)] = i;
  B64[45] = 62; // '-'
  B64[95] = 63; // '_'
  B64[43] = 62; // '+' (tolerated)
  B64[47] = 63; // '/'
}

/** base64url (no padding) of UTF-8 text -> the text; undefined when malformed */
function decodeBase64Url(s: string, start: number, end: number): string | undefined {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) break; // '=' padding
    const v = c < 128 ? B64[c]! : -1;
    if (v < 0) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
    }
  }
  return utf8(bytes);
}

function utf8(b: number[]): string | undefined {
  let out = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i++]!;
    let cp: number;
    if (c < 0x80) cp = c;
    else if (c >= 0xc0 && c < 0xe0) cp = ((c & 0x1f) << 6) | (b[i++]! & 0x3f);
    else if (c >= 0xe0 && c < 0xf0) cp = ((c & 0x0f) << 12) | ((b[i++]! & 0x3f) << 6) | (b[i++]! & 0x3f);
    else if (c >= 0xf0 && c < 0xf8) cp = ((c & 0x07) << 18) | ((b[i++]! & 0x3f) << 12) | ((b[i++]! & 0x3f) << 6) | (b[i++]! & 0x3f);
    else return undefined;
    if (Number.isNaN(cp)) return undefined;
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** the claims of a compact JWT (`header.payload.signature`), undefined when it is not one */
function payloadOf(token: string): Record<string, unknown> | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0) return undefined;
  const text = decodeBase64Url(token, first + 1, second);
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** the header value for a claim; undefined (header removed) when the claim is absent */
function valueOf(claims: Record<string, unknown>, path: string[]): string | undefined {
  let v: unknown = claims;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[path[i]!];
  }
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && printableAscii(v)) return v;
  return asciiJson(JSON.stringify(v));
}

function printableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c > 126) return false;
  }
  return true;
}

/**
 * JSON text with every character outside printable ASCII as \uXXXX. A header value can carry
 * neither CR/LF (a claim could smuggle a header) nor, portably, non-ASCII text, so a string claim
 * holding either arrives JSON-encoded (`"Ada \u2713"`, quotes included): lossless and unambiguous.
 */
function asciiJson(json: string): string {
  if (printableAscii(json)) return json;
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    out += (c < 32 && c !== 9) || c > 126 ? '\\u' + (c + 0x10000).toString(16).slice(1) : json[i];
  }
  return out;
}

// The same client sends the same token on request after request: keep the last token's header
// values, so a repeat costs no decoding or JSON parsing.
let lastToken = '';
let lastValues: (string | undefined)[] = [];

function valuesFor(s: Settings, token: string): (string | undefined)[] {
  if (token === lastToken) return lastValues;
  const claims = payloadOf(token);
  const values = new Array<string | undefined>(s.mappings.length);
  for (let i = 0; i < s.mappings.length; i++) values[i] = claims ? valueOf(claims, s.mappings[i]!.path) : undefined;
  lastToken = token;
  lastValues = values;
  return values;
}

const NONE: (string | undefined)[] = [];
const PHASES: Phases = { requestHeaders: true };

export const filter = defineFilter({
  phases(): Phases {
    // read the config now: the host calls this once after load, so a bad config fails the load
    settings ??= load();
    return PHASES;
  },
  // the token's header comes with the call
  headers: () => ({ request: [(settings ??= load()).from] }),
  onRequestHeaders(): Action {
    const s = (settings ??= load());
    const raw = requestHeader(s.from);
    let values = NONE;
    if (raw != null) {
      // `Bearer <token>` (any case), or a bare token in a custom header
      const token = raw.length > 7 && raw.charCodeAt(6) === 32 && raw.slice(0, 6).toLowerCase() === 'bearer' ? raw.slice(7).trim() : raw.trim();
      if (token) values = valuesFor(s, token);
      if (s.removeFrom) removeRequestHeader(s.from);
    }
    const m = s.mappings;
    for (let i = 0; i < m.length; i++) {
      const v = values[i];
      if (v === undefined) removeRequestHeader(m[i]!.header);
      else setRequestHeader(m[i]!.header, v);
    }
    return action.continue();
  },
});
