/**
 * Bad input against a running `weft node` (the built bundle) on loopback: a control plane and two
 * node proxies (node-a on 127.0.0.22 with the client workload, node-b on 127.0.0.23 with an echo
 * backend), capture off. Each case is refused cleanly and a SOCKS5 request through node-a to the
 * echo Service over HBONE succeeds afterwards: a peer with a certificate from another root on
 * 15008, plain HTTP/1.1 and random bytes on 15008, malformed CONNECT authorities from a client with
 * a valid mesh certificate, a SOCKS5 handshake cut half way and garbage on 15080. Last, both proxies
 * are restarted with `--cert-ttl` so that their certificates rotate about every second, and a SOCKS
 * loop runs across several rotations with no failure.
 * Addresses and ports differ from node-proxy.test.ts so that both files may run at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { caFromPems, loadCaDir, makeRootCa } from '../../hosts/node/ca/index.ts';
import { createKeyAndCsr } from '../../hosts/node/ca/csr.ts';
import { buildWorkloadCertificate, createCaSigner, type WorkloadCertificate } from '../../hosts/node/certs/index.ts';
import { HboneClient, HboneError } from '../../hosts/node/hbone/index.ts';
import { StaticCerts } from './hbone-fixtures.ts';
import { WEFT_BIN, eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import { startNode, type NodeProcess } from '../support/node-process.ts';
import { socksHttpGet } from '../support/socks-client.ts';
import { ambientNamespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';

const run = promisify(execFile);
const A = '127.0.0.22';
const B = '127.0.0.23';
const VIP = '10.96.78.10';
const ECHO_PORT = 18280;
const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';
const ECHO = 'spiffe://cluster.local/ns/demo/sa/echo';

const MESH = yamlDocs(
  ambientNamespace('demo'),
  workloadEntry({ name: 'client-a', namespace: 'demo', app: 'client', node: 'node-a', address: A, serviceAccount: 'client' }),
  workloadEntry({ name: 'echo-b', namespace: 'demo', app: 'echo', node: 'node-b', address: B, serviceAccount: 'echo' }),
  service({ name: 'echo', namespace: 'demo', app: 'echo', clusterIP: VIP, targetPort: ECHO_PORT }),
);

let dir: string;
let cp: ControlProcess;
let a: NodeProcess;
let b: NodeProcess;
let echo: Server;

const rootPem = () => readFileSync(join(dir, 'state', 'root-cert.pem'), 'utf8');
const token = (node: string) => weftSync(['token', 'create', '--node', node, '--state', join(dir, 'state')]).stdout.trim();

function nodeProxy(name: string, listen: string, args: string[] = []): Promise<NodeProcess> {
  return startNode({ control: cp.secure, rootCert: join(dir, 'state', 'root-cert.pem'), token: token(name), nodeName: name, listen, args: ['--verbose', ...args] });
}

/** One request through node-a's SOCKS5 port to the echo VIP (HBONE to node-b). */
async function servesOn(path = '/still-serving'): Promise<void> {
  const body = await socksHttpGet({ proxy: `${A}:15080`, localAddress: A, ip: VIP, port: 80, path });
  expect(JSON.parse(body)).toMatchObject({ who: 'echo-b', path });
}

/** Writes `data` (then optionally ends), and waits for the server to close (or the time to run out). */
function rawExchange(host: string, port: number, data: Buffer | string, o: { end?: boolean; waitMs?: number } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, o.waitMs ?? 5000);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.on('connect', () => {
      s.write(data);
      if (o.end) s.end();
    });
  });
}

function hboneClient(cert: WorkloadCertificate): HboneClient {
  return new HboneClient({ certificates: new StaticCerts().set(cert), trustDomains: ['cluster.local'], connectTimeoutMs: 3000 });
}

async function tunnelError(cert: WorkloadCertificate, authority: string): Promise<HboneError> {
  const c = hboneClient(cert);
  try {
    const t = await c.connect({ sourceIdentity: cert.identity, destination: { ip: B, port: 15008 }, expectedIdentities: [ECHO], authority });
    t.stream.destroy();
    throw new Error(`the tunnel to ${authority} opened`);
  } catch (err) {
    if (!(err instanceof HboneError)) throw err;
    return err;
  } finally {
    c.close(true);
  }
}

/** An HTTP/1.0 GET through a tunnel; the response text. */
function getThrough(stream: NodeJS.ReadWriteStream & { destroy(): void }, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no response through the tunnel: ${text}`));
    }, 5000);
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve(text);
    });
    stream.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.write(`GET ${path} HTTP/1.0\r\nhost: ${B}\r\n\r\n`);
  });
}

async function serials(n: NodeProcess): Promise<Record<string, string>> {
  const d = JSON.parse((await n.get(15000, '/config_dump')).body);
  const out: Record<string, string> = {};
  for (const c of d.certificates as { identity: string; chainPems?: string[] }[]) if (c.chainPems?.[0]) out[c.identity] = new X509Certificate(c.chainPems[0]).serialNumber.toUpperCase();
  return out;
}

async function secretSerial(admin: string): Promise<string> {
  const r = await run(process.execPath, [WEFT_BIN, 'proxy-config', 'secret', '--admin', admin, '-o', 'json'], { timeout: 10_000 });
  const dump = JSON.parse(r.stdout) as { dynamicActiveSecrets: { name: string; versionInfo: string }[] };
  const s = dump.dynamicActiveSecrets.find((x) => x.name !== 'ROOTCA');
  expect(s, r.stdout).toBeDefined();
  return s!.versionInfo;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-node-bad-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'mesh.yaml'), MESH);
  echo = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ who: 'echo-b', path: req.url }));
  });
  await new Promise<void>((r) => echo.listen(ECHO_PORT, B, r));
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
  [a, b] = await Promise.all([nodeProxy('node-a', A), nodeProxy('node-b', B)]);
  await Promise.all([a.waitReady(), b.waitReady()]);
  await servesOn('/first');
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await cp?.stop();
  echo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('weft node refuses bad input and serves on', () => {
  it('refuses a peer whose certificate is from another root on 15008', async () => {
    const foreign = makeRootCa({ org: 'cluster.local' });
    const ca = caFromPems({ caCertPem: foreign.certPem, caKeyPem: foreign.keyPem, rootCertPem: foreign.certPem, source: 'throwaway' });
    const { keyPem, csrPem } = createKeyAndCsr(CLIENT);
    const chain = ca.sign(csrPem, { identity: CLIENT, validitySeconds: 3600, trustDomains: ['cluster.local'] });
    // the rogue trusts the mesh root, so it accepts node-b; node-b must refuse it
    const rogue = buildWorkloadCertificate({ identity: CLIENT, keyPem, chainPems: chain, rootPems: [rootPem()] });
    const err = await tunnelError(rogue, `${B}:${ECHO_PORT}`);
    expect(err.reason).toBe('peer-refused');
    expect(err.message).toMatch(/not signed by this mesh root|root this mesh does not trust/);
    await eventually(() => /HBONE refused .*untrusted-chain/.test(b.stderr()), 3000, 'the refusal in node-b log');
    expect(b.child.exitCode).toBeNull();
    await servesOn('/after-foreign-root');
  });

  it('refuses an expired mesh certificate and one from another trust domain on 15008', async () => {
    // the mesh's own CA, read from this test's state directory, issues what the control plane would not
    const ca = await loadCaDir(join(dir, 'state'));
    const issue = (identity: string, o: { trustDomain: string; now?: number; validitySeconds: number }) => {
      const { keyPem, csrPem } = createKeyAndCsr(identity);
      const chain = ca.sign(csrPem, { identity, validitySeconds: o.validitySeconds, trustDomains: [o.trustDomain], ...(o.now ? { now: o.now } : {}) });
      return buildWorkloadCertificate({ identity, keyPem, chainPems: chain, rootPems: [rootPem()] });
    };
    const expired = await tunnelError(issue(CLIENT, { trustDomain: 'cluster.local', now: Date.now() - 10_000, validitySeconds: 2 }), `${B}:${ECHO_PORT}`);
    expect(expired.reason).toBe('peer-refused');
    expect(expired.message).toMatch(/expired/);
    await servesOn('/after-expired');
    const evil = 'spiffe://evil.example/ns/demo/sa/client';
    const wrongTd = await tunnelError(issue(evil, { trustDomain: 'evil.example', validitySeconds: 600 }), `${B}:${ECHO_PORT}`);
    expect(wrongTd.reason).toBe('peer-refused');
    expect(wrongTd.message).toContain(evil);
    expect(wrongTd.message).toMatch(/trust domain/);
    await servesOn('/after-wrong-trust-domain');
  });

  it('answers plain HTTP/1.1 on 15008 with 400 and closes', async () => {
    const r = await rawExchange(B, 15008, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1.1 400 Bad Request/);
    await servesOn('/after-http1');
  });

  it('closes on random bytes on 15008', async () => {
    const r = await rawExchange(B, 15008, Buffer.from('8f1e00ff13374242deadbeef0a0d0a0d00', 'hex'));
    expect(r.closed).toBe(true);
    expect(r.text).not.toMatch(/echo-b/);
    await servesOn('/after-random-bytes');
  });

  it('answers malformed CONNECT authorities with 400 to a client holding a valid mesh certificate', async () => {
    const signer = createCaSigner({ address: cp.secure, rootCert: rootPem(), token: token('node-a'), trustDomain: 'cluster.local' });
    let cert: WorkloadCertificate;
    try {
      const { keyPem, csrPem } = createKeyAndCsr(CLIENT);
      const chain = await signer.sign({ identity: CLIENT, csrPem, validitySeconds: 600 });
      cert = buildWorkloadCertificate({ identity: CLIENT, keyPem, chainPems: chain, rootPems: [rootPem()] });
    } finally {
      signer.close();
    }
    for (const authority of ['nonsense', B, `${B}:99999`, '::1:80', '300.1.2.3:80', `${B}:`]) {
      const err = await tunnelError(cert, authority);
      expect(err.reason, authority).toBe('http-status');
      expect(err.status, authority).toBe(400);
    }
    // the same certificate with a good authority: the refusals were about the authority only
    const c = hboneClient(cert);
    try {
      const t = await c.connect({ sourceIdentity: CLIENT, destination: { ip: B, port: 15008 }, expectedIdentities: [ECHO], authority: `${B}:${ECHO_PORT}` });
      expect(await getThrough(t.stream, '/direct-hbone')).toContain('"who":"echo-b"');
    } finally {
      c.close(true);
    }
    await servesOn('/after-bad-authority');
  });

  it('survives SOCKS5 handshakes cut half way on 15080', async () => {
    // greeting cut after the method count
    await rawExchange(A, 15080, Buffer.from([5, 2]), { end: true, waitMs: 3000 });
    // greeting done, CONNECT request cut in the middle of the address, then the client leaves
    const cut = await new Promise<Buffer>((resolve) => {
      const s = netConnect({ host: A, port: 15080, localAddress: A });
      let got = Buffer.alloc(0);
      s.on('error', () => {});
      s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2) {
          s.write(Buffer.from([5, 1, 0, 1, 10, 96]));
          setTimeout(() => {
            s.destroy();
            resolve(got);
          }, 200);
        }
      });
    });
    expect([...cut.subarray(0, 2)]).toEqual([5, 0]);
    // cut in the middle and half-closed: the proxy must close its side too
    const halfClosed = await rawExchange(A, 15080, Buffer.from([5, 1, 0, 5, 1, 0, 1, 10]), { end: true });
    expect(halfClosed.closed).toBe(true);
    await servesOn('/after-cut-socks');
  });

  it('closes on garbage on 15080', async () => {
    const r = await rawExchange(A, 15080, Buffer.from('\x00\xff\x13\x37 not socks at all\r\n\r\n', 'latin1'));
    expect(r.closed).toBe(true);
    expect(r.text).not.toMatch(/echo-b/);
    expect(a.child.exitCode).toBeNull();
    await servesOn('/after-garbage');
  });
});

describe('certificate rotation under traffic', () => {
  it('rotates short-lived certificates at least twice during a SOCKS loop with no failed request', async () => {
    await Promise.all([a.stop(), b.stop()]);
    [a, b] = await Promise.all([nodeProxy('node-a', A, ['--cert-ttl', '5']), nodeProxy('node-b', B, ['--cert-ttl', '5'])]);
    await Promise.all([a.waitReady(), b.waitReady()]);
    const before = await secretSerial(`${A}:15000`);
    const seenA = new Set<string>();
    const seenB = new Set<string>();
    let stop = false;
    const sampler = (async () => {
      while (!stop) {
        try {
          const [sa, sb] = await Promise.all([serials(a), serials(b)]);
          if (sa[CLIENT]) seenA.add(sa[CLIENT]);
          if (sb[ECHO]) seenB.add(sb[ECHO]);
        } catch {
          // a sample lost is no failure of the data path
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const failures: string[] = [];
    let ok = 0;
    const started = Date.now();
    for (let i = 0; i < 100; i++) {
      try {
        const body = await socksHttpGet({ proxy: `${A}:15080`, localAddress: A, ip: VIP, port: 80, path: `/rot/${i}` });
        if (JSON.parse(body).who === 'echo-b') ok++;
        else failures.push(body);
      } catch (e) {
        failures.push(`${i}: ${(e as Error).message}`);
      }
      // spread the 100 requests over ~4 s: several renewals (every ~1 s with a 5 s lifetime)
      await new Promise((r) => setTimeout(r, 40));
    }
    const elapsed = Date.now() - started;
    stop = true;
    await sampler;
    const after = await secretSerial(`${A}:15000`);
    expect(failures).toEqual([]);
    expect(ok).toBe(100);
    expect(seenA.size, `node-a serials over ${elapsed} ms`).toBeGreaterThanOrEqual(3);
    expect(seenB.size, `node-b serials over ${elapsed} ms`).toBeGreaterThanOrEqual(3);
    expect(after).not.toBe(before);
  }, 30_000);
});
