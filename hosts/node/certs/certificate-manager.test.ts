/**
 * CertificateManager with an in-process signer (Weft's CA): issuance on first use with its own key,
 * one CSR for concurrent callers, renewal near half life with a 'rotated' event and a new context,
 * a CA outage that keeps the old certificate and retries with backoff, and list() without keys.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { caFromPems, makeRootCa } from '../ca/index.ts';
import { CertificateManager, type FailureEvent, type RotationEvent } from './index.ts';
import type { CertificateSigner } from './ca-client.ts';

const ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const root = makeRootCa({ org: 'cluster.local' });
const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'test' });

function signer(o: { down?: () => boolean; calls?: string[] } = {}): CertificateSigner {
  return {
    sign: async ({ identity, csrPem, validitySeconds }) => {
      o.calls?.push(identity);
      if (o.down?.()) throw new Error('connect ECONNREFUSED 127.0.0.1:15012');
      return ca.sign(csrPem, { identity, validitySeconds });
    },
  };
}

const managers: CertificateManager[] = [];
function manager(o: Partial<ConstructorParameters<typeof CertificateManager>[0]> & { signer: CertificateSigner }): CertificateManager {
  const m = new CertificateManager({ rootPems: root.certPem, ...o });
  managers.push(m);
  return m;
}
afterEach(() => managers.splice(0).forEach((m) => m.close()));

describe('CertificateManager', () => {
  it('issues on first use, once for concurrent callers, and caches the context', async () => {
    const calls: string[] = [];
    const m = manager({ signer: signer({ calls }) });
    const [a, b] = await Promise.all([m.get(ID), m.get(ID)]);
    expect(a).toBe(b);
    expect(calls).toEqual([ID]);
    expect(new X509Certificate(a.chainPems[0]!).subjectAltName).toBe(`URI:${ID}`);
    expect(new X509Certificate(a.chainPems[0]!).checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(a.keyPem)))).toBe(true);
    expect((await m.get(ID)).secureContext).toBe(a.secureContext);
    expect(m.current(ID)).toBe(a);
    expect(a.notAfter - a.notBefore).toBeGreaterThan(23 * 3600_000);
  });

  it('renews near half life, emits rotated with the previous certificate, and builds a new context', async () => {
    const m = manager({ signer: signer(), validitySeconds: 2, renewal: { at: 0.5, jitter: 0 } });
    const rotations: RotationEvent[] = [];
    m.on('rotated', (e: RotationEvent) => rotations.push(e));
    const first = await m.get(ID);
    // the CA backdates a minute: a 2 s certificate lives 62 s, so ask for a renewal directly as well
    const second = await m.renew(ID);
    expect(second.serial).not.toBe(first.serial);
    expect(second.keyPem).not.toBe(first.keyPem);
    expect(second.secureContext).not.toBe(first.secureContext);
    expect(rotations.map((r) => r.previous?.serial)).toEqual([undefined, first.serial]);
    expect(m.list()[0]!.nextAttemptAt! - Date.now()).toBeLessThan(32_000);
  });

  it('keeps the old certificate while the CA is down and retries with backoff', async () => {
    let down = false;
    const calls: string[] = [];
    const m = manager({ signer: signer({ down: () => down, calls }), backoff: { initialMs: 20, maxMs: 80 } });
    const failures: FailureEvent[] = [];
    m.on('failed', (e: FailureEvent) => failures.push(e));
    const first = await m.get(ID);
    down = true;
    await expect(m.renew(ID)).rejects.toThrow(/ECONNREFUSED/);
    expect(m.current(ID)).toBe(first);
    expect(await m.get(ID)).toBe(first);
    await new Promise((r) => setTimeout(r, 400));
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.every((f) => f.serving)).toBe(true);
    expect(failures.at(-1)!.retryInMs).toBeLessThanOrEqual(80);
    expect(m.list()[0]).toMatchObject({ identity: ID, state: 'failing', serial: first.serial });
    down = false;
    await new Promise((r) => setTimeout(r, 200));
    expect(m.current(ID)!.serial).not.toBe(first.serial);
    expect(m.list()[0]!.state).toBe('valid');
  });

  it('fails fast while the CA is down and nothing valid is held', async () => {
    const m = manager({ signer: signer({ down: () => true }), backoff: { initialMs: 5000 } });
    await expect(m.get(ID)).rejects.toThrow(/ECONNREFUSED/);
    await expect(m.get(ID)).rejects.toThrow(/no valid certificate .* yet.*retrying/);
    expect(m.list()[0]).toMatchObject({ state: 'failing' });
  });

  it('lists certificates without keys', async () => {
    const m = manager({ signer: signer() });
    await m.get(ID);
    const listed = m.list();
    expect(listed[0]).toMatchObject({ identity: ID, state: 'valid', issuer: 'O=cluster.local, CN=Weft Root CA' });
    expect(JSON.stringify(listed)).not.toMatch(/PRIVATE KEY/);
    expect(listed[0]).not.toHaveProperty('secureContext');
    m.forget(ID);
    expect(m.list()).toEqual([]);
  });
});
