import { describe, expect, it } from 'vitest';
import { JwtProvider } from './l7-jwt.ts';
import { JwksCache } from './jwks-cache.ts';

const provider = (uri: string) => new JwtProvider('origins-0', { issuer: 'i', remoteJwks: { httpUri: { uri, cluster: 'c', timeout: { seconds: 1 } }, cacheDuration: { seconds: 60 } } }, 'p');

describe('JwksCache (remote_jwks)', () => {
  it('is pending until loaded, serves the keys, refreshes stale keys in the background', async () => {
    let now = 1_000_000;
    let calls = 0;
    let body = '{"keys":[{"kty":"EC","kid":"a"}]}';
    const fetch = (async () => {
      calls++;
      return new Response(body, { status: 200 });
    }) as typeof globalThis.fetch;
    const cache = new JwksCache({ now: () => now, fetch });
    const p = provider('http://jwks.test/keys');
    expect(cache.keys(p)).toBe('pending');
    await cache.load(p);
    expect(cache.keys(p)).toEqual([{ kty: 'EC', kid: 'a' }]);
    expect(calls).toBe(1);
    body = '{"keys":[{"kty":"EC","kid":"b"}]}';
    now += 61_000;
    expect(cache.keys(p)).toEqual([{ kty: 'EC', kid: 'a' }]); // stale keys served while refreshing
    await cache.load(p);
    expect(cache.keys(p)).toEqual([{ kty: 'EC', kid: 'b' }]);
    expect(calls).toBe(2);
  });

  it('a failed first fetch fails tokens for a second, then tries again', async () => {
    let now = 5_000_000;
    const fetch = (async () => new Response('nope', { status: 503 })) as typeof globalThis.fetch;
    const cache = new JwksCache({ now: () => now, fetch });
    const p = provider('http://jwks.test/down');
    await cache.load(p);
    expect(cache.keys(p)).toBe('failed');
    now += 1500;
    expect(cache.keys(p)).toBe('pending');
  });
});
