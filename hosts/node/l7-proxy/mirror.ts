/**
 * Request mirroring (Envoy's request_mirror_policies; Gateway API RequestMirror, Istio mirror): a
 * copy of the forwarded request is sent to the mirror cluster, fire-and-forget, its answer read and
 * dropped. The copy is made from the head as forwarded (the same header mutation and path rewrite)
 * with `-shadow` appended to the host (Envoy's default), and started on the mirror endpoint's pool
 * like any upstream attempt: `MirrorRequest` is a ProxiedRequest of its own, so the engine's pools
 * carry it without an engine change.
 *
 * Only requests without a body are mirrored: teeing a streamed body into a second attempt needs an
 * engine hook (a body source the exchange feeds both attempts from), see core/route/README.md.
 */
import type { Duplex } from 'node:stream';
import { HOP_BY_HOP, type Attempt, type BodyKind, type BodyTarget, type ProxiedRequest, type ResponseBody } from '../l7/handler.ts';
import type { HeadMutation, RequestHeadView, UpstreamOutcome } from '../l7/index.ts';

/** `host-shadow`, keeping a port after it (`host-shadow:8080`), as Envoy builds the shadow's authority. */
export function shadowAuthority(authority: string): string {
  const bracket = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > bracket && colon > 0) return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  return `${authority}-shadow`;
}

/** The fields forwarded for `head`: hop-by-hop and Connection-named fields dropped, then `m` applied. */
export function mirroredFields(head: RequestHeadView, m: Pick<HeadMutation, 'set' | 'add' | 'remove'>): string[] {
  const src = head.headers;
  const conn = (head.header('connection') ?? '').toLowerCase().split(',').map((t) => t.trim()).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < src.length; i += 2) {
    const name = src[i]!;
    if (HOP_BY_HOP.has(name) || conn.includes(name)) continue;
    out.push(name, src[i + 1]!);
  }
  const drop = (name: string) => {
    let w = 0;
    for (let r = 0; r < out.length; r += 2) {
      if (out[r] === name) continue;
      out[w++] = out[r]!;
      out[w++] = out[r + 1]!;
    }
    out.length = w;
  };
  for (const name of m.remove ?? []) drop(name);
  const set = m.set ?? [];
  for (let i = 0; i < set.length; i += 2) {
    drop(set[i]!);
    out.push(set[i]!, set[i + 1]!);
  }
  for (const v of m.add ?? []) out.push(v);
  return out;
}

/** A bodiless copy of a request, sent to a mirror; the answer is drained and dropped. */
export class MirrorRequest implements ProxiedRequest {
  readonly bodyKind = 0 as BodyKind;
  readonly bodyLength = 0;
  readonly chunkedSource = false;
  readonly upgrade = '';
  readonly finished = false;
  readonly bodyStarted = false;
  readonly acceptsChunkedRaw = true;
  #attempt: Attempt | undefined;

  constructor(
    readonly method: string,
    readonly target: string,
    readonly authority: string,
    readonly scheme: 'http' | 'https',
    readonly fields: string[],
    readonly grpc: boolean,
    readonly timeoutMs: number,
    private readonly onEnd?: (o: UpstreamOutcome) => void,
  ) {}

  startBody(target: BodyTarget): void {
    target.bodyEnd(undefined);
  }
  resumeBody(): void {}
  responseHead(_status: number, _fields: string[], _body: ResponseBody, _length: number): boolean {
    return true;
  }
  responseData(): boolean {
    return true;
  }
  responseTrailers(): void {}
  attemptEnded(outcome: UpstreamOutcome): void {
    this.#attempt = undefined;
    this.onEnd?.(outcome);
  }
  upgraded(_fields: string[], socket: Duplex): void {
    socket.destroy();
  }
  cork(): void {}
  uncork(): void {}
  attach(attempt: Attempt): void {
    this.#attempt = attempt;
  }
  /** Stops the mirror attempt (the proxy is closing). */
  abort(): void {
    this.#attempt?.abort();
  }
}
