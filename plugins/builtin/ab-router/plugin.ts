/**
 * ab-router: picks a route (a VirtualService http route's or HTTPRoute rule's `name`) or a cluster
 * for a request, from a header, a cookie, or a sticky A/B split.
 *
 * Order: the header's value if it names a variant, else the cookie's, else the sticky split (a
 * returning client keeps its side through its cookie; a new one is placed at random with chance
 * percentB and gets the cookie on the response), else `default`, else the route as configured.
 * Every answer is an action object made once from the config, so a call allocates nothing.
 */
import { monotonicNow } from 'weft:plugin/host@0.1.0';
import { appendResponseHeader, requestHeader } from 'weft:plugin/http@0.1.0';
import { action, config, log, type Action, type Filter, type Phases } from '../../sdk/index.ts';

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
  routeA: Action;
  routeB: Action;
  setCookieA: string;
  setCookieB: string;
}

interface Settings {
  header: string | undefined;
  cookie: string | undefined;
  variants: Map<string, Action>;
  fallback: Action;
  sticky: Sticky | undefined;
  phases: Phases;
}

function target(t: Target | undefined, what: string): Action {
  if (!t || typeof t !== 'object') configError(`ab-router: ${what} must be { route } or { cluster }`);
  if (t.route && t.cluster) configError(`ab-router: ${what} names both a route and a cluster; give one`);
  if (t.route) return action.route(t.route);
  if (t.cluster) return action.cluster(t.cluster);
  configError(`ab-router: ${what} names neither a route nor a cluster`);
}

let settings: Settings | undefined;

function load(): Settings {
  const c = config<AbRouterConfig>();
  const variants = new Map<string, Action>();
  for (const value in c.variants ?? {}) variants.set(value, target(c.variants![value], `variants["${value}"]`));
  if ((c.header || c.cookie) && variants.size === 0) configError('ab-router: header/cookie given without variants');
  let sticky: Sticky | undefined;
  const s = c.stickyCookie;
  if (s) {
    if (!s.name || !s.routeA || !s.routeB) configError('ab-router: stickyCookie needs name, routeA and routeB');
    const pct = Number(s.percentB);
    if (!(pct >= 0 && pct <= 100)) configError('ab-router: stickyCookie.percentB must be 0..100');
    const attrs = `; Path=/; Max-Age=${s.maxAgeSeconds ?? 86400}; HttpOnly; SameSite=Lax`;
    sticky = {
      name: s.name,
      b: pct / 100,
      routeA: action.route(s.routeA),
      routeB: action.route(s.routeB),
      setCookieA: `${s.name}=a${attrs}`,
      setCookieB: `${s.name}=b${attrs}`,
    };
  }
  return {
    header: c.header?.toLowerCase(),
    cookie: c.cookie,
    variants,
    fallback: c.default ? target(c.default, 'default') : action.continue(),
    sticky,
    // a new sticky client's cookie is asked for in the request phase: never a response call
    phases: { requestHeaders: true },
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

export const filter: Filter = {
  wantedPhases(): Phases {
    return (settings ??= load()).phases;
  },

  onRequestHeaders(): Action {
    const s = (settings ??= load());
    if (s.header) {
      const v = requestHeader(s.header);
      if (v != null) {
        const a = s.variants.get(v);
        if (a) return a;
      }
    }
    const sticky = s.sticky;
    if (!s.cookie && !sticky) return s.fallback;
    const cookies = requestHeader('cookie');
    if (s.cookie && cookies != null) {
      const v = cookieValue(cookies, s.cookie);
      if (v !== undefined) {
        const a = s.variants.get(v);
        if (a) return a;
      }
    }
    if (!sticky) return s.fallback;
    const side = cookies != null ? cookieValue(cookies, sticky.name) : undefined;
    if (side === 'a') return sticky.routeA;
    if (side === 'b') return sticky.routeB;
    // a new client: placed now, its cookie asked for now and set by the host on the response
    const b = draw() < sticky.b;
    appendResponseHeader('set-cookie', b ? sticky.setCookieB : sticky.setCookieA);
    return b ? sticky.routeB : sticky.routeA;
  },

  onResponseHeaders: () => action.continue(),
  onRequestBody: () => action.continue(),
  onResponseBody: () => action.continue(),
};
