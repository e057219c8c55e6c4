/**
 * CertificateManager against the real `weft control` bundle: a CSR over TLS to 15012 (server
 * verified by the mesh root and its SPIFFE id), a join token, ImpersonatedIdentity; a workload of
 * another node refused with the CA's reason; a control plane that is gone keeps the old
 * certificate in service and a restarted one renews it; a server with the wrong identity refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateManager, createCaSigner } from '../../hosts/node/certs/index.ts';
import { verifyChain } from '../../hosts/node/ca/test-support.ts';
import { startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import { ambientNamespace, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';

const ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const MESH = yamlDocs(
  ambientNamespace('demo'),
  workloadEntry({ name: 'echo-a', namespace: 'demo', app: 'echo', node: 'node-a', address: '127.0.0.2', serviceAccount: 'echo' }),
  workloadEntry({ name: 'other-b', namespace: 'demo', app: 'other', node: 'node-b', address: '127.0.0.3', serviceAccount: 'other' }),
);

let dir: string;
let cp: ControlProcess;
const managers: CertificateManager[] = [];

const start = (port?: string): Promise<ControlProcess> =>
  startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state'), ...(port ? ['--secure-port', port] : [])]);

function manager(o: { serverIdentity?: string } = {}): CertificateManager {
  const token = weftSync(['token', 'create', '--node', 'node-a', '--state', join(dir, 'state')]).stdout.trim();
  const root = readFileSync(join(dir, 'state', 'root-cert.pem'), 'utf8');
  const m = new CertificateManager({
    signer: createCaSigner({ address: cp.secure, rootCert: root, token, trustDomain: 'cluster.local', timeoutMs: 3000, ...o }),
    rootPems: root,
    validitySeconds: 3600,
    backoff: { initialMs: 100, maxMs: 300 },
  });
  managers.push(m);
  return m;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-hbone-ca-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'mesh.yaml'), MESH);
  cp = await start();
});

afterAll(async () => {
  managers.forEach((m) => m.close());
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CertificateManager with weft control', () => {
  it('gets a workload certificate for a workload on its node, with its own key', async () => {
    const m = manager();
    const c = await m.get(ID);
    expect(verifyChain(c.chainPems, readFileSync(join(dir, 'state', 'root-cert.pem'), 'utf8')).ok).toBe(true);
    expect(c.notAfter - Date.now()).toBeGreaterThan(3500_000);
    expect(c.notAfter - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(m.list()).toMatchObject([{ identity: ID, state: 'valid', serial: c.serial }]);
  });

  it("is refused for a workload of another node, with the CA's reason", async () => {
    const m = manager();
    await expect(m.get('spiffe://cluster.local/ns/demo/sa/other')).rejects.toThrow(/node-a/);
  });

  it('refuses a CA that presents another identity', async () => {
    const m = manager({ serverIdentity: 'spiffe://cluster.local/ns/weft-system/sa/impostor' });
    await expect(m.get(ID)).rejects.toThrow(/presented spiffe:\/\/cluster.local\/ns\/weft-system\/sa\/weft-control/);
  });

  it('keeps its certificate while the control plane is down and renews once it is back', async () => {
    const m = manager();
    const first = await m.get(ID);
    const port = cp.secure.split(':').pop()!;
    await cp.stop();
    await expect(m.renew(ID)).rejects.toThrow(/CA at .* (refused or failed|failed)|UNAVAILABLE|ECONNREFUSED|No connection/);
    expect(m.current(ID)).toBe(first);
    expect(m.list()[0]!.state).toBe('failing');
    cp = await start(port);
    const deadline = Date.now() + 15_000;
    while (m.current(ID) === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(m.current(ID)!.serial).not.toBe(first.serial);
    expect(m.list()[0]!.state).toBe('valid');
  }, 30_000);
});
