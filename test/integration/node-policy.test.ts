/**
 * `weft node` policy and balancing behaviours through the built bundle, with long-lived
 * connections: a control plane and three node proxies on their own loopback addresses
 * (node-a 127.0.3.2 with the clients, node-b 127.0.3.3 and node-c 127.0.3.5 each with one
 * endpoint of the `hold` Service). The backends greet with their name and then echo, so a test can
 * hold a connection open, know which endpoint it reached, and check that it still works.
 *
 * - least connections (`--load-balancing least-connections` on node-a) spreads held connections;
 * - an ipBlocks DENY on node-b matches the client address in the CONNECT's `forwarded`, not the
 *   tunnel peer (node-a dials from 127.0.0.1);
 * - a DENY applied while connections are open closes the one it now denies within ~1 s and leaves
 *   the other principal's connection working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import { startNode, type NodeProcess } from '../support/node-process.ts';
import { ambientNamespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';

const NS = 'pol';
const VIP = '10.96.79.10';
const PORT = 18190;
const CLIENT_IP = '127.0.3.2';
const OTHER_IP = '127.0.3.4';
const B_IP = '127.0.3.3';
const C_IP = '127.0.3.5';
const CLIENT = `spiffe://cluster.local/ns/${NS}/sa/client`;

const MESH = yamlDocs(
  ambientNamespace(NS),
  workloadEntry({ name: 'client-a', namespace: NS, app: 'client', node: 'node-a', address: CLIENT_IP, serviceAccount: 'client' }),
  workloadEntry({ name: 'other-a', namespace: NS, app: 'other', node: 'node-a', address: OTHER_IP, serviceAccount: 'other' }),
  workloadEntry({ name: 'hold-b', namespace: NS, app: 'hold', node: 'node-b', address: B_IP, serviceAccount: 'hold' }),
  workloadEntry({ name: 'hold-c', namespace: NS, app: 'hold', node: 'node-c', address: C_IP, serviceAccount: 'hold' }),
  service({ name: 'hold', namespace: NS, app: 'hold', clusterIP: VIP, targetPort: PORT }),
);

const denyPolicy = (name: string, source: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: hold } }
  action: DENY
  rules: [{ from: [{ source: ${source} }] }]
`;

let dir: string;
let cp: ControlProcess;
let a: NodeProcess;
let b: NodeProcess;
let c: NodeProcess;
const servers: Server[] = [];
const sockets: Socket[] = [];

const cfg = (name: string) => join(dir, 'config', name);

/** Greets with its name, then echoes. */
function holdServer(host: string, who: string): Promise<Server> {
  const s = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => {});
    sock.write(`${who}\n`);
    sock.pipe(sock);
  });
  servers.push(s);
  return new Promise((r) => s.listen(PORT, host, () => r(s)));
}

interface Held {
  socket: Socket;
  /** The backend that greeted. */
  who: string;
  /** Resolves when the connection closes, with the error if it was reset. */
  closed: Promise<string>;
  closedAt?: number;
  /** Writes `text` and resolves with what comes back. */
  roundTrip(text: string): Promise<string>;
}

/** A SOCKS5 CONNECT through node-a's 15080 from `from`, held open; rejects on a refusal. */
function hold(from: string, ip: string, port: number, timeoutMs = 5000): Promise<Held> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.3.2', port: 15080, localAddress: from });
    sockets.push(s);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`SOCKS5 to ${ip}:${port} from ${from} timed out`));
    }, timeoutMs);
    let stage = 0;
    let buf = Buffer.alloc(0);
    const h = { socket: s } as Held;
    h.closed = new Promise((r) => {
      let err = '';
      s.on('error', (e: NodeJS.ErrnoException) => (err = e.code ?? e.message));
      s.on('close', () => {
        h.closedAt = Date.now();
        r(err || 'closed');
      });
    });
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        s.write(Buffer.from([5, 1, 0, 1, ...ip.split('.').map(Number), port >> 8, port & 255]));
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) {
          clearTimeout(timer);
          s.destroy();
          return reject(new Error(`SOCKS5 reply ${buf[1]}`));
        }
        buf = buf.subarray(10);
        stage = 2;
      }
      const nl = buf.indexOf('\n');
      if (stage === 2 && nl >= 0) {
        clearTimeout(timer);
        s.off('data', onData);
        h.who = buf.subarray(0, nl).toString();
        h.roundTrip = (text) =>
          new Promise((r, j) => {
            const t = setTimeout(() => j(new Error('no echo')), 3000);
            s.once('data', (echoed: Buffer) => {
              clearTimeout(t);
              r(echoed.toString());
            });
            s.write(text);
          });
        resolve(h);
      }
    };
    s.on('data', onData);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before the greeting (stage ${stage})`));
    });
  });
}

async function nodeProxy(name: string, listen: string, args: string[] = []): Promise<NodeProcess> {
  const token = weftSync(['token', 'create', '--node', name, '--state', join(dir, 'state')]).stdout.trim();
  return startNode({ control: cp.secure, rootCert: join(dir, 'state', 'root-cert.pem'), token, nodeName: name, listen, args });
}

const hasPolicy = async (n: NodeProcess, key: string) => JSON.parse((await n.get(15000, '/config_dump')).body).policies.some((p: { key: string }) => p.key === key);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-node-policy-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(cfg('mesh.yaml'), MESH);
  await holdServer(B_IP, 'hold-b');
  await holdServer(C_IP, 'hold-c');
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
  [a, b, c] = await Promise.all([nodeProxy('node-a', CLIENT_IP, ['--load-balancing', 'least-connections']), nodeProxy('node-b', B_IP), nodeProxy('node-c', C_IP)]);
  await Promise.all([a.waitReady(30_000), b.waitReady(30_000), c.waitReady(30_000)]);
}, 90_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.allSettled([a?.stop(), b?.stop(), c?.stop()]);
  await cp?.stop();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('weft node: balancing and policy on live connections', () => {
  it('least connections: with 3 connections held to one endpoint, new service connections go to the other', async () => {
    expect(a.stdout()).toMatch(/load balancing least-connections/);
    const direct = await Promise.all([1, 2, 3].map(() => hold(CLIENT_IP, B_IP, PORT)));
    expect(direct.map((h) => h.who)).toEqual(['hold-b', 'hold-b', 'hold-b']);
    const viaService: Held[] = [];
    for (let i = 0; i < 3; i++) viaService.push(await hold(CLIENT_IP, VIP, 80));
    // round robin would alternate; least connections fills hold-c up to hold-b's three
    expect(viaService.map((h) => h.who)).toEqual(['hold-c', 'hold-c', 'hold-c']);
    // the balancer is told of closes: with hold-b's three gone, hold-b is the emptier one
    const logged = () => a.accessLog().filter((l) => l.direction === 'outbound' && l.dst?.hbone_addr === `${B_IP}:${PORT}`).length;
    const before = logged();
    for (const h of direct) h.socket.destroy();
    await eventually(() => logged() >= before + 3, 5000, 'the three direct connections closed on node-a');
    const more: Held[] = [];
    for (let i = 0; i < 2; i++) more.push(await hold(CLIENT_IP, VIP, 80));
    expect(more.map((h) => h.who)).toEqual(['hold-b', 'hold-b']);
    for (const h of [...viaService, ...more]) h.socket.destroy();
  }, 30_000);

  it('an ipBlocks DENY matches the client address forwarded in the CONNECT, not the tunnel peer', async () => {
    writeFileSync(cfg('deny-ip.yaml'), denyPolicy('deny-ip', `{ ipBlocks: [${OTHER_IP}/32] }`));
    try {
      await eventually(() => hasPolicy(b, `${NS}/deny-ip`), 10_000, 'deny-ip on node-b');
      await expect(hold(OTHER_IP, B_IP, PORT)).rejects.toThrow(/SOCKS5 reply|closed before/);
      // the other client, whose tunnel comes from the same peer address, is let through
      const ok = await hold(CLIENT_IP, B_IP, PORT);
      expect(ok.who).toBe('hold-b');
      ok.socket.destroy();
      const line = await eventually(() => b.accessLog().find((l) => l.response_flags === 'DENY' && l.authz?.policy === `${NS}/deny-ip`), 5000, 'DENY logged on node-b');
      expect(line.src.addr).toMatch(new RegExp(`^${OTHER_IP.replace(/\./g, '\\.')}:\\d+$`));
    } finally {
      unlinkSync(cfg('deny-ip.yaml'));
    }
    await eventually(async () => !(await hasPolicy(b, `${NS}/deny-ip`)), 10_000, 'deny-ip gone');
  }, 40_000);

  it('a DENY applied to live connections closes the one it denies within ~1 s; the other principal keeps working', async () => {
    const mine = await hold(CLIENT_IP, B_IP, PORT);
    const theirs = await hold(OTHER_IP, B_IP, PORT);
    expect(await mine.roundTrip('ping')).toBe('ping');
    expect(await theirs.roundTrip('ping')).toBe('ping');
    const written = Date.now();
    writeFileSync(cfg('deny-client.yaml'), denyPolicy('deny-client', `{ principals: [cluster.local/ns/${NS}/sa/client] }`));
    try {
      await eventually(() => hasPolicy(b, `${NS}/deny-client`), 10_000, 'deny-client on node-b');
      const applied = Date.now();
      const how = await Promise.race([mine.closed, new Promise<string>((r) => setTimeout(() => r('still open'), 1500))]);
      // node-b resets both legs (RST_STREAM alone on the tunnel); node-a's splice maps the reset
      // HBONE stream to a TCP reset, so the client sees ECONNRESET, not a FIN
      expect(how).toBe('ECONNRESET');
      expect(mine.closedAt! - applied).toBeLessThan(1000);
      expect(mine.closedAt! - written).toBeLessThan(10_000);
      expect(await theirs.roundTrip('still here')).toBe('still here');
      const line = await eventually(() => b.accessLog().find((l) => l.response_flags === 'DENY' && /closed by a policy change/.test(l.error ?? '')), 5000, 'the close logged on node-b');
      expect(line).toMatchObject({ src: { identity: CLIENT }, authz: { decision: 'allow' } });
      expect(line.error).toMatch(new RegExp(`${NS}/deny-client`));
      const stats = (await b.get(15020, '/stats/prometheus')).body;
      expect(stats.split('\n').some((l) => l.startsWith('istio_tcp_connections_closed_total{') && l.includes('response_flags="DENY"') && l.includes(`source_principal="${CLIENT}"`))).toBe(true);
      expect(b.stderr()).toMatch(/policy change .*closed 1 connection/);
    } finally {
      unlinkSync(cfg('deny-client.yaml'));
      theirs.socket.destroy();
    }
  }, 40_000);
});
