import type { PluginTests } from '../../sdk/testing.ts';

// Cases that use a keyed bucket use a key value of their own, so they hold whether or not the
// runner shares the key-value store between cases. Repeats run back to back, far faster than the
// configured rates refill.
export default {
  config: { requestsPerSecond: 1, burst: 3, key: { header: 'x-client' } },
  cases: [
    {
      name: 'the sample mesh config (one global bucket, 100/s, burst 200) lets a request through',
      config: { requestsPerSecond: 100, burst: 200 },
      request: { path: '/' },
      expect: { action: 'continue' },
    },
    {
      name: 'a burst of 3 admits the 3rd request in a row',
      request: { headers: { 'x-client': 'burst-3rd' } },
      repeat: 3,
      expect: { action: 'continue' },
    },
    {
      name: 'the 4th request in a row is refused with 429',
      request: { headers: { 'x-client': 'burst-4th' } },
      repeat: 4,
      expect: { action: 'respond', status: 429, body: 'rate limit exceeded\n' },
    },
    {
      name: 'responseStatus replaces 429',
      config: { requestsPerSecond: 1, burst: 1, key: { header: 'x-client' }, responseStatus: 503 },
      request: { headers: { 'x-client': 'status-503' } },
      repeat: 2,
      expect: { action: 'respond', status: 503 },
    },
    {
      name: 'headers: true reports limit and remaining on the response',
      config: { requestsPerSecond: 1, burst: 5, key: { header: 'x-client' }, headers: true },
      request: { headers: { 'x-client': 'with-headers' } },
      repeat: 2,
      response: { status: 200 },
      expect: { action: 'continue', responseHeaders: { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '3' } },
    },
    {
      name: "the figures replace an upstream's own; the request goes upstream as it came",
      config: { requestsPerSecond: 1, burst: 5, key: { header: 'x-client' }, headers: true },
      request: { headers: { 'x-client': 'injector', 'x-ratelimit-remaining': '999' } },
      response: { status: 200, headers: { 'x-ratelimit-remaining': '77', 'x-ratelimit-limit': '1000' } },
      expect: {
        action: 'continue',
        requestHeaders: { 'x-ratelimit-remaining': '999', 'x-ratelimit-limit': null },
        responseHeaders: { 'x-ratelimit-remaining': '4', 'x-ratelimit-limit': '5' },
      },
    },
    {
      name: 'buckets keyed by source principal: a principal that used up its burst is refused',
      config: { requestsPerSecond: 1, burst: 2, key: { sourcePrincipal: true } },
      request: { sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/greedy' },
      repeat: 3,
      expect: { action: 'respond', status: 429 },
    },
    {
      name: 'buckets keyed by remote address ignore the client port',
      config: { requestsPerSecond: 1, burst: 1, key: { remoteAddress: true } },
      request: { sourceAddress: '[2001:db8::7]:41000' },
      repeat: 2,
      expect: { action: 'respond', status: 429 },
    },
  ],
} satisfies PluginTests;
