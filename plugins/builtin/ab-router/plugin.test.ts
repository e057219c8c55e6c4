import type { PluginTests } from '../../sdk/testing.ts';

const REVIEWS_V2 = 'outbound|9080|v2|reviews.demo.svc.cluster.local';

export default {
  config: {
    header: 'x-variant',
    cookie: 'variant',
    variants: { beta: { route: 'reviews-beta' }, v2: { cluster: REVIEWS_V2 } },
    default: { route: 'reviews-stable' },
  },
  cases: [
    {
      name: 'the header names a variant with a route',
      request: { headers: { 'x-variant': 'beta' } },
      expect: { action: 'route', route: 'reviews-beta' },
    },
    {
      name: 'the header names a variant with a cluster',
      request: { headers: { 'x-variant': 'v2' } },
      expect: { action: 'cluster', cluster: REVIEWS_V2 },
    },
    {
      name: 'without the header, the cookie decides (among other cookies)',
      request: { headers: { cookie: 'session=abc; variant=beta; theme=dark' } },
      expect: { action: 'route', route: 'reviews-beta' },
    },
    {
      name: 'an unknown value falls back to default',
      request: { headers: { 'x-variant': 'nope', cookie: 'othervariant=beta' } },
      expect: { action: 'route', route: 'reviews-stable' },
    },
    {
      name: 'no match and no default: the route as configured (continue)',
      config: { header: 'x-variant', variants: { beta: { route: 'reviews-beta' } } },
      request: {},
      expect: { action: 'continue' },
    },
    {
      name: 'sticky split: a returning client keeps side B through its cookie',
      config: { stickyCookie: { name: 'ab', percentB: 0, routeA: 'shop-a', routeB: 'shop-b' } },
      request: { headers: { cookie: 'ab=b' } },
      response: { status: 200 },
      expect: { action: 'route', route: 'shop-b', responseHeaders: { 'set-cookie': null } },
    },
    {
      name: 'sticky split: a new client is placed (percentB 100 -> B) and gets its cookie on the response',
      config: { stickyCookie: { name: 'ab', percentB: 100, routeA: 'shop-a', routeB: 'shop-b' } },
      request: { headers: { cookie: 'session=1' } },
      response: { status: 200 },
      expect: { action: 'route', route: 'shop-b', responseHeaders: { 'set-cookie': 'ab=b; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax' } },
    },
    {
      name: 'sticky split: percentB 0 places every new client on A, with a cookie that lasts maxAgeSeconds',
      config: { stickyCookie: { name: 'ab', percentB: 0, routeA: 'shop-a', routeB: 'shop-b', maxAgeSeconds: 60 } },
      request: {},
      response: { status: 200, headers: { 'set-cookie': 'session=1' } },
      expect: { action: 'route', route: 'shop-a', responseHeaders: { 'set-cookie': 'session=1, ab=a; Path=/; Max-Age=60; HttpOnly; SameSite=Lax' } },
    },
  ],
} satisfies PluginTests;
