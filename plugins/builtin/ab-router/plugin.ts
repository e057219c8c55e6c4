/**
 * ab-router: picks a route (a VirtualService http route's or HTTPRoute rule's `name`) or a cluster
 * for a request, from a header, a cookie, or a sticky A/B split.
 *
 * Order: the header's value if it names a variant, else the cookie's, else the sticky split (a
 * returning client keeps its side through its cookie; a new one is placed at random with chance
 * percentB and gets the cookie on the response), else `default`, else the route as configured.
 * Every answer is an outcome string made once from the config (weft:plugin@0.2.0, the SDK's raw
 * level), and the header and cookie come with the call: a request with neither is one compare.
 */
import { monotonicNow } from 'weft:plugin/host@0.2.0';
import { ABSENT, config, defineRawFilter, log, outcome, SEP, type Phases } from '../../sdk/index.ts';

/**
 * A config error: logged (the host shows the guest's log, while a thrown error reaches it only as a
 * trap), then thrown, so the load fails or the call fails by the failStrategy.
 */
function configError(message: string): never {
  log.error(message);
  throw new Error(message);
}

interface Target {
  route?: string;
  cluster?: string;
}
interface AbRouterConfig {
  header?: string;
  cookie?: string;
  variants?: Record<string, Target>;
  default?: Target;
  stickyCookie?: { name: string; percentB: number; routeA: string; routeB: string; maxAgeSeconds?: number };
}

interface Sticky {
  name: string;
  /** chance of B, 0..1 */
  b: number;
  /** a returning client's outcome */
  routeA: string;
  routeB: string;
  /** a new client's: its cookie, then its route */
  newA: string;
  newB: string;
}

interface Settings {
  header: string | undefined;
  cookie: string | undefined;
  /** a variant's value -> its outcome */
  variants: Map<string, string>;
  fallback: string;
  sticky: Sticky | undefined;
  /** the names whose values come with the call: the header, then `cookie` */
  wanted: string[];
}

function target(t: Target | undefined, what: string): string {
  if (!t || typeof t !== 'object') configError(`ab-router: ${what} must be { route } or { cluster }`);
  if (t.route && t.cluster) configError(`ab-router: ${what} names both a route and a cluster; give one`);
  if (t.route) return outcome.route(t.route);
  if (t.cluster) return outcome.cluster(t.cluster);
  configError(`ab-router: ${what} names neither a route nor a cluster`);
}

function load(): Settings {
  const c = config<AbRouterConfig>();
  const variants = new Map<string, string>();
  for (const value in c.variants ?? {}) variants.set(value, target(c.variants![value], `variants["${value}"]`));
  if ((c.header || c.cookie) && variants.size === 0) configError('ab-router: header/cookie given without variants');
  let sticky: Sticky | undefined;
  const s = c.stickyCookie;
  if (s) {
    if (!s.name || !s.routeA || !s.routeB) configError('ab-router: stickyCookie needs name, routeA and routeB');
    const pct = Number(s.percentB);
    if (!(pct >= 0 && pct <= 100)) configError('ab-router: stickyCookie.percentB must be 0..100');
    const attrs = `; Path=/; Max-Age=${s.maxAgeSeconds ?? 86400}; HttpOnly; SameSite=Lax`;
    const routeA = outcome.route(s.routeA);
    const routeB = outcome.route(s.routeB);
    sticky = {
      name: s.name,
      b: pct / 100,
      routeA,
      routeB,
      // a new client's cookie goes back with the request phase's outcome: never a response call
      newA: outcome.appendResponse('set-cookie', `${s.name}=a${attrs}`) + routeA,
      newB: outcome.appendResponse('set-cookie', `${s.name}=b${attrs}`) + routeB,
    };
  }
  const header = c.header?.toLowerCase();
  return {
    header,
    cookie: c.cookie,
    variants,
    fallback: c.default ? target(c.default, 'default') : '',
    sticky,
    wanted: [...(header ? [header] : []), ...(c.cookie || sticky ? ['cookie'] : [])],
  };
}

/** the value of cookie `name` in a Cookie header (`a=1; b=2`), scanning without a regex or split */
function cookieValue(h: string, name: string): string | undefined {
  const n = name.length;
  let i = 0;
  while (i < h.length) {
    while (h.charCodeAt(i) === 32) i++;
    let end = h.indexOf(';', i);
    if (end < 0) end = h.length;
    if (i + n < end && h.charCodeAt(i + n) === 61 /* = */ && h.startsWith(name, i)) return h.slice(i + n + 1, end).trim();
    i = end + 1;
  }
  return undefined;
}

/**
 * A number in [0, 1) for a new client's placement. Not Math.random: its state is part of the build
 * snapshot, so every instance would draw the same sequence. The clock's nanoseconds, mixed (the
 * murmur3 finalizer), differ call to call.
 */
function draw(): number {
  let x = Number(monotonicNow() as unknown) % 4294967296 | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x ^= x >>> 16;
  return (x >>> 0) / 4294967296;
}

export const filter = defineRawFilter(() => {
  const s = load();
  const { variants, fallback, sticky, cookie } = s;
  const header = s.header !== undefined;
  const both = s.wanted.length === 2;
  // the call's argument when the request has neither the header nor a cookie
  const neither = both ? ABSENT + SEP + ABSENT : ABSENT;
  return {
    phases: (): Phases => ({ requestHeaders: true }),
    headers: () => ({ request: s.wanted }),
    onRequestHeaders(values: string): string {
      if (values === neither && !sticky) return fallback;
      let h: string | undefined;
      let cookies: string | undefined;
      if (both) {
        const i = values.indexOf(SEP);
        h = values.slice(0, i);
        cookies = values.slice(i + 1);
      } else if (header) h = values;
      else cookies = values;
      if (h !== undefined && h !== ABSENT) {
        const a = variants.get(h);
        if (a !== undefined) return a;
      }
      if (cookies === ABSENT) cookies = undefined;
      if (cookie && cookies !== undefined) {
        const v = cookieValue(cookies, cookie);
        if (v !== undefined) {
          const a = variants.get(v);
          if (a !== undefined) return a;
        }
      }
      if (!sticky) return fallback;
      const side = cookies !== undefined ? cookieValue(cookies, sticky.name) : undefined;
      if (side === 'a') return sticky.routeA;
      if (side === 'b') return sticky.routeB;
      // a new client: placed now, its cookie set by the host on the response
      return draw() < sticky.b ? sticky.newB : sticky.newA;
    },
  };
});
