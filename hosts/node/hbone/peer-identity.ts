/**
 * Reading and checking a peer's SPIFFE identity from what Node's TLS layer gives
 * (`PeerCertificate.subjectaltname`: `URI:spiffe://..., DNS:...`). Node quotes a SAN that holds a
 * comma or quote (`URI:"a,b"`); a SPIFFE id cannot hold either, so such entries are never ids.
 */
import type { PeerCertificate } from 'node:tls';
import { parseSpiffeId } from '../../../core/identity/index.ts';

/** URI SANs, in order. */
export function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  for (const part of subjectaltname.split(', ')) if (part.startsWith('URI:')) out.push(part.slice(4));
  return out;
}

export type PeerCheck = { ok: true; identity: string; trustDomain: string } | { ok: false; message: string };

/**
 * The peer's SPIFFE id: the first URI SAN that parses as SPIFFE in one of `trustDomains` (any
 * trust domain when the list is empty), and, when `expected` is given, one of those.
 */
export function checkPeerIdentity(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined, o: { trustDomains?: readonly string[]; expected?: readonly string[] }): PeerCheck {
  const uris = uriSans(cert?.subjectaltname);
  if (uris.length === 0) return { ok: false, message: `the peer's certificate has no SPIFFE URI SAN (SANs: ${cert?.subjectaltname || 'none'})` };
  const tds = o.trustDomains ?? [];
  let firstSpiffe: string | undefined;
  for (const uri of uris) {
    const id = parseSpiffeId(uri);
    if (!id.ok) continue;
    firstSpiffe ??= uri;
    if (tds.length && !tds.includes(id.value.trustDomain)) continue;
    if (o.expected?.length && !o.expected.includes(uri)) continue;
    return { ok: true, identity: uri, trustDomain: id.value.trustDomain };
  }
  if (!firstSpiffe) return { ok: false, message: `the peer's certificate names no valid SPIFFE id (URI SANs: ${uris.join(', ')})` };
  const inDomain = uris.some((u) => {
    const id = parseSpiffeId(u);
    return id.ok && (!tds.length || tds.includes(id.value.trustDomain));
  });
  if (!inDomain) return { ok: false, message: `the peer presented ${uris.join(', ')}, outside the accepted trust domain(s) ${tds.join(', ')}` };
  return { ok: false, message: `the peer presented ${uris.join(', ')}, expected ${o.expected!.join(' or ')}` };
}
