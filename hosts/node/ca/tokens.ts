/**
 * Join tokens (design.md 5): a JWT naming one node proxy, gateway or waypoint, signed with a key
 * kept in the control plane's state directory, sent as `authorization: Bearer <token>`.
 *
 * HS256 rather than ES256: the same process holds the key, mints (`weft token create`, on the
 * control plane's machine) and verifies (the control plane), so a key pair would separate nothing;
 * whoever reads the token key could read ca-key.pem beside it anyway. HMAC verifies in microseconds
 * and has no signature-encoding pitfalls. The header's `alg` is pinned: anything else is refused.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { base64Decode, base64Encode, describeCaller, type Caller } from '../../../core/identity/index.ts';
import { ensurePrivateDir, errno, writeFileAtomic } from './state-dir.ts';

export const TOKEN_KEY_FILE = 'token-key';
export const TOKEN_ISSUER = 'weft';
export const TOKEN_AUDIENCE = 'weft-control';
const MAX_TOKEN_LENGTH = 4096;
const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

export class TokenError extends Error {
  override name = 'TokenError';
}

export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp?: number;
  jti: string;
}

const enc = new TextEncoder();
const b64url = (b: Uint8Array): string => base64Encode(b, true);
const json64 = (v: unknown): string => b64url(enc.encode(JSON.stringify(v)));

export class TokenAuthority {
  readonly #key: Uint8Array;
  /** Names the key in each token's header, so a token from another state directory gets a clear message. */
  readonly keyId: string;

  constructor(key: Uint8Array) {
    if (key.length < 32) throw new Error('token key must be at least 32 bytes');
    this.#key = key;
    this.keyId = b64url(createHash('sha256').update(key).digest().subarray(0, 9));
  }

  /** Reads the key; fails with what to do when the state directory has none. */
  static async load(stateDir: string): Promise<TokenAuthority> {
    const path = join(stateDir, TOKEN_KEY_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') {
        throw new TokenError(`no token key at ${path}: start the control plane once with \`weft control --state ${stateDir}\` to create it, or pass the --state directory it uses`);
      }
      throw err;
    }
    return new TokenAuthority(base64Decode(text.trim()));
  }

  /** What the control plane calls when it bootstraps its state directory. */
  static async loadOrCreate(stateDir: string): Promise<TokenAuthority> {
    try {
      return await TokenAuthority.load(stateDir);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
    }
    await ensurePrivateDir(stateDir);
    try {
      await writeFileAtomic(join(stateDir, TOKEN_KEY_FILE), `${b64url(randomBytes(32))}\n`, 0o600, { exclusive: true });
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
    return TokenAuthority.load(stateDir);
  }

  create(caller: Caller, opts: { ttlSeconds?: number; now?: number } = {}): string {
    checkCaller(caller);
    const iat = Math.floor((opts.now ?? Date.now()) / 1000);
    const claims: TokenClaims = { iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, sub: describeCaller(caller), iat, jti: randomUUID() };
    if (opts.ttlSeconds) claims.exp = iat + Math.ceil(opts.ttlSeconds);
    const body = `${json64({ alg: 'HS256', typ: 'JWT', kid: this.keyId })}.${json64(claims)}`;
    return `${body}.${this.#mac(body)}`;
  }

  /** The caller a token names; throws TokenError saying what is wrong. */
  verify(token: string, now = Date.now()): Caller {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('token is too long');
    const parts = token.split('.');
    if (parts.length !== 3) throw new TokenError('token is not a JWT (expected three dot-separated parts)');
    const [h, p, sig] = parts as [string, string, string];
    const header = decodeJson(h, 'header') as { alg?: unknown; kid?: unknown };
    if (header.alg !== 'HS256') throw new TokenError(`token algorithm ${JSON.stringify(header.alg)} is not accepted (HS256 only)`);
    if (header.kid !== undefined && header.kid !== this.keyId) {
      throw new TokenError(`token was signed with another control plane's key (kid ${String(header.kid)}, this one is ${this.keyId}); create a new one with \`weft token create\``);
    }
    const want = Buffer.from(this.#mac(`${h}.${p}`));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new TokenError('token signature does not verify (altered, or signed with another key)');
    const c = decodeJson(p, 'claims') as Partial<TokenClaims>;
    if (c.iss !== TOKEN_ISSUER) throw new TokenError(`token issuer ${JSON.stringify(c.iss)} is not ${TOKEN_ISSUER}`);
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (!aud.includes(TOKEN_AUDIENCE)) throw new TokenError(`token audience is not ${TOKEN_AUDIENCE}`);
    if (typeof c.exp === 'number' && Math.floor(now / 1000) >= c.exp) throw new TokenError(`token expired at ${new Date(c.exp * 1000).toISOString()}`);
    return parseSubject(c.sub);
  }

  #mac(data: string): string {
    return b64url(createHmac('sha256', this.#key).update(data).digest());
  }
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(base64Decode(part)));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new TokenError(`token ${what} is not base64url JSON`);
}

/** `node/NAME`, `gateway/NS/NAME`, `waypoint/NS/NAME` back to a Caller. */
export function parseSubject(sub: unknown): Caller {
  const s = typeof sub === 'string' ? sub.split('/') : [];
  let caller: Caller | undefined;
  if (s.length === 2 && s[0] === 'node') caller = { kind: 'node', node: s[1]! };
  else if (s.length === 3 && (s[0] === 'gateway' || s[0] === 'waypoint')) caller = { kind: s[0], namespace: s[1]!, name: s[2]! };
  if (!caller) throw new TokenError(`token subject ${JSON.stringify(sub)} names no node, gateway or waypoint`);
  checkCaller(caller, TokenError);
  return caller;
}

function checkCaller(c: Caller, E: new (m: string) => Error = Error): void {
  const names = c.kind === 'node' ? [c.node] : [c.namespace, c.name];
  for (const n of names) if (!NAME.test(n)) throw new E(`${JSON.stringify(n)} is not a valid ${c.kind === 'node' ? 'node' : 'namespace or'} name`);
}

/** `90s`, `15m`, `24h`, `7d`, `1h30m` (or bare seconds) to seconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(t))) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  if (end !== t.length || t.length === 0) throw new Error(`bad duration ${JSON.stringify(text)}: use e.g. 30m, 24h, 7d`);
  return total;
}
