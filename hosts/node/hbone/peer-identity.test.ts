import { describe, expect, it } from 'vitest';
import { checkPeerIdentity, uriSans } from './peer-identity.ts';

const cert = (san: string) => ({ subjectaltname: san });

describe('peer SPIFFE identity', () => {
  it('reads URI SANs from Node’s subjectaltname', () => {
    expect(uriSans('DNS:a, URI:spiffe://td/ns/a/sa/b, IP Address:1.2.3.4')).toEqual(['spiffe://td/ns/a/sa/b']);
    expect(uriSans(undefined)).toEqual([]);
  });
  it('accepts an id in an accepted trust domain and among the expected', () => {
    expect(checkPeerIdentity(cert('URI:spiffe://cluster.local/ns/a/sa/b'), { trustDomains: ['cluster.local'] })).toMatchObject({ ok: true, identity: 'spiffe://cluster.local/ns/a/sa/b' });
    expect(checkPeerIdentity(cert('URI:spiffe://cluster.local/ns/a/sa/b'), { expected: ['spiffe://cluster.local/ns/a/sa/b'] }).ok).toBe(true);
  });
  it('says what was presented when refusing', () => {
    const r = checkPeerIdentity(cert('URI:spiffe://cluster.local/ns/a/sa/b'), { expected: ['spiffe://cluster.local/ns/a/sa/c'] });
    expect(r).toEqual({ ok: false, message: 'the peer presented spiffe://cluster.local/ns/a/sa/b, expected spiffe://cluster.local/ns/a/sa/c' });
    expect(checkPeerIdentity(cert('URI:spiffe://other/ns/a/sa/b'), { trustDomains: ['cluster.local'] })).toMatchObject({ ok: false, message: expect.stringMatching(/outside the accepted trust domain/) });
    expect(checkPeerIdentity(cert('DNS:example.com'), {})).toMatchObject({ ok: false, message: expect.stringMatching(/no SPIFFE URI SAN/) });
    expect(checkPeerIdentity(cert('URI:https://example.com/'), {})).toMatchObject({ ok: false, message: expect.stringMatching(/no valid SPIFFE id/) });
  });
});
