/**
 * Opening one HBONE connection: TCP to the peer's 15008, TLS 1.3 with the source workload's
 * certificate (no SNI, as ztunnel: the server picks its certificate by the address dialed), the
 * server's chain checked against the mesh root and its SPIFFE id against the expected identities,
 * ALPN h2, then an HTTP/2 session with 4 MiB stream and 16 MiB connection windows. It resolves when
 * the server's SETTINGS arrive, so a server that refuses us after the handshake (it sends GOAWAY with
 * the reason) fails the dial with that reason instead of failing the first stream.
 */
import { connect as h2connect, constants, type ClientHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { formatAuthority } from './authority.ts';
import { CONNECTION_WINDOW, H2_SETTINGS, HBONE_ALPN, MAX_SESSION_MEMORY_MB, MAX_STREAMS_PER_CONNECTION } from './constants.ts';
import { HboneError } from './errors.ts';
import { checkPeerIdentity } from './peer-identity.ts';

export interface DialOptions {
  ip: string;
  port: number;
  sourceIdentity: string;
  secureContext: SecureContext;
  /** The server must present one of these (empty: any SPIFFE id in `trustDomains`). */
  expectedIdentities: readonly string[];
  trustDomains: readonly string[];
  timeoutMs: number;
  /** A TLS session ticket from an earlier connection, for resumption. */
  ticket?: Buffer;
  onTicket?: (ticket: Buffer) => void;
  /** Makes the TCP connection (a socket inside a pod's network namespace, a bound source address). */
  dial?: (ip: string, port: number) => Socket;
}

export interface DialedSession {
  session: ClientHttp2Session;
  socket: TLSSocket;
  peerIdentity: string;
  /** min(our limit, the server's SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreams: number;
  resumed: boolean;
}

/** `NGHTTP2_INADEQUATE_SECURITY`: what Weft's server sends, with the reason as debug data, when it refuses a peer. */
export const REFUSAL_GOAWAY_CODE = constants.NGHTTP2_INADEQUATE_SECURITY;

export function dialHbone(o: DialOptions): Promise<DialedSession> {
  const where = `HBONE ${formatAuthority(o.ip, o.port)}`;
  return new Promise<DialedSession>((resolve, reject) => {
    let session: ClientHttp2Session | undefined;
    let peer: string | undefined;
    let done = false;
    const fail = (err: HboneError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session?.destroy();
      tls.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new HboneError('timeout', `${where}: no HBONE connection within ${o.timeoutMs} ms (is a firewall or NetworkPolicy blocking 15008?)`)), o.timeoutMs);
    const tls = tlsConnect({
      // an IP as host sends no SNI (ztunnel sends none either: the server picks by the address dialed)
      host: o.ip,
      port: o.port,
      ...(o.dial ? { socket: o.dial(o.ip, o.port) } : {}),
      secureContext: o.secureContext,
      ALPNProtocols: [HBONE_ALPN],
      ...(o.ticket ? { session: o.ticket } : {}),
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const c = checkPeerIdentity(cert, { trustDomains: o.trustDomains, expected: o.expectedIdentities });
        if (!c.ok) return new HboneError('peer-identity', `${where}: refused the server's certificate: ${c.message}`);
        peer = c.identity;
        return undefined;
      },
    });
    if (o.onTicket) tls.on('session', o.onTicket);
    tls.on('error', (err: Error & { code?: string }) => {
      if (err instanceof HboneError) return fail(err);
      const untrusted = /CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(err.code ?? '');
      const refusedOurs = /alert/.test(err.message);
      const code = err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ETIMEDOUT' ? 'connect-failed' : untrusted ? 'peer-identity' : 'tls-handshake';
      const hint = untrusted ? ` (the server's chain does not verify against the mesh root)` : refusedOurs ? ` (the server refused the TLS handshake: TLS 1.3 and ALPN h2 needed, and a certificate from the mesh root for ${o.sourceIdentity})` : '';
      fail(new HboneError(code, `${where}: ${err.message}${hint}`, { cause: err }));
    });
    tls.once('close', () => fail(new HboneError('tls-handshake', `${where}: the connection closed during the TLS handshake`)));
    tls.once('secureConnect', () => {
      if (done) return;
      tls.setNoDelay(true);
      if (tls.alpnProtocol !== HBONE_ALPN) return fail(new HboneError('tls-handshake', `${where}: the server did not agree to ALPN h2 (got ${tls.alpnProtocol || 'none'}): not an HBONE server?`));
      session = h2connect(`https://${formatAuthority(o.ip, o.port)}`, {
        createConnection: () => tls,
        settings: H2_SETTINGS,
        maxSessionMemory: MAX_SESSION_MEMORY_MB,
        peerMaxConcurrentStreams: MAX_STREAMS_PER_CONNECTION,
      });
      session.on('error', (err) => fail(new HboneError('upstream-reset', `${where}: ${err.message}`, { cause: err })));
      session.once('goaway', (code: number, _last: number, data?: Buffer) => {
        const reason = data?.length ? data.toString('utf8') : `GOAWAY code ${code}`;
        fail(new HboneError(code === REFUSAL_GOAWAY_CODE ? 'peer-refused' : 'upstream-reset', `${where}: the server refused the connection: ${reason}`));
      });
      session.once('close', () => fail(new HboneError('peer-refused', `${where}: the server closed the connection after the TLS handshake (did it refuse our certificate for ${o.sourceIdentity}?)`)));
      // a refusing server sends its SETTINGS and then GOAWAY, often in one read: give the GOAWAY
      // a turn to arrive before calling the session good
      session.once('remoteSettings', (settings) => setImmediate(() => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        session!.removeAllListeners('goaway').removeAllListeners('close').removeAllListeners('error');
        try {
          session!.setLocalWindowSize(CONNECTION_WINDOW);
        } catch {
          // a session torn down meanwhile: the pool sees it closed
        }
        const maxStreams = Math.min(MAX_STREAMS_PER_CONNECTION, settings.maxConcurrentStreams ?? MAX_STREAMS_PER_CONNECTION);
        resolve({ session: session!, socket: tls, peerIdentity: peer!, maxStreams, resumed: tls.isSessionReused() });
      }));
    });
  });
}
