/**
 * One inbound HBONE stream as the server hands it to the node proxy: who the peer is (SPIFFE id
 * from its verified chain), where it wants to go (`:authority`), the request headers, and the
 * stream. The proxy applies L4 authorization, dials the workload, and then `accept()`s (200, the
 * tunnel opens) or `refuse()`s (a status and a one-line reason in the body), as ztunnel answers
 * only after its upstream connection is made.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { HboneTarget } from './authority.ts';
import { parseBaggage } from '../../../core/node/hbone-headers.ts';

export interface PeerConnection {
  peerIdentity: string;
  peerTrustDomain: string;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  tls: TLSSocket;
  /** Whatever `certificate()` returned for this connection (the identity the server presented). */
  certificate: object;
  /** Streams open on this connection. */
  streams: number;
  chain?: string[];
}

export class InboundTunnel {
  readonly #conn: PeerConnection;
  readonly stream: ServerHttp2Stream;
  readonly headers: IncomingHttpHeaders;
  readonly authority: string;
  readonly target: HboneTarget;

  constructor(conn: PeerConnection, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, target: HboneTarget) {
    this.#conn = conn;
    this.stream = stream;
    this.headers = headers;
    this.authority = headers[':authority']!;
    this.target = target;
  }

  get peerIdentity(): string {
    return this.#conn.peerIdentity;
  }
  get peerTrustDomain(): string {
    return this.#conn.peerTrustDomain;
  }
  /** The HBONE connection's addresses: the peer node proxy and our pod-IP:15008. */
  get remoteAddress(): string {
    return this.#conn.remoteAddress;
  }
  get remotePort(): number {
    return this.#conn.remotePort;
  }
  get localAddress(): string {
    return this.#conn.localAddress;
  }
  get localPort(): number {
    return this.#conn.localPort;
  }
  /** The certificate object the server presented (from the `certificate()` hook). */
  get serverCertificate(): object {
    return this.#conn.certificate;
  }

  /** The peer's chain as PEMs, leaf first (computed once per connection, on demand). */
  get peerChain(): string[] {
    return (this.#conn.chain ??= chainPems(this.#conn.tls.getPeerCertificate(true)));
  }

  /** `forwarded`'s `for=` (the original client ip:port) and `host=` (the service), if sent. */
  get forwarded(): { for?: string; host?: string } {
    const v = this.headers.forwarded;
    const out: { for?: string; host?: string } = {};
    if (typeof v !== 'string') return out;
    const f = /(?:^|[;,\s])for="?([^";,]+)"?/i.exec(v)?.[1];
    const h = /(?:^|[;,\s])host="?([^";,]+)"?/i.exec(v)?.[1];
    if (f) out.for = f;
    if (h) out.host = h;
    return out;
  }

  get baggage(): Record<string, string> {
    return parseBaggage(this.headers.baggage);
  }

  /** Answers 200: the tunnel is open; returns the stream to splice. */
  accept(headers?: Readonly<Record<string, string>>): ServerHttp2Stream {
    if (!this.stream.headersSent && !this.stream.destroyed) this.stream.respond(headers ? { ...headers, ':status': 200 } : { ':status': 200 });
    return this.stream;
  }

  /** Answers `status` with a one-line reason and ends the stream. */
  refuse(status: number, message: string): void {
    respondStatus(this.stream, status, message);
  }
}

export function respondStatus(stream: ServerHttp2Stream, status: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close();
    return;
  }
  try {
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(`${message}\n`);
  } catch {
    stream.destroy();
  }
}

function chainPems(leaf: DetailedPeerCertificate | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<DetailedPeerCertificate>();
  for (let c = leaf; c && c.raw && !seen.has(c); c = c.issuerCertificate) {
    seen.add(c);
    out.push(`-----BEGIN CERTIFICATE-----\n${c.raw.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`.replace('\n\n', '\n'));
  }
  return out;
}
