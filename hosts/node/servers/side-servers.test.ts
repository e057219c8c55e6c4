import { Registry, Counter } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { tcpLabels } from '../../../core/telemetry/tcp-labels.ts';
import { TcpMetrics } from '../../../core/telemetry/tcp-metrics.ts';
import { AdminServer } from './admin-server.ts';
import { ReadyServer } from './ready-server.ts';
import type { SideHttpServer } from './side-http-server.ts';
import { StatsServer } from './stats-server.ts';

const started: SideHttpServer[] = [];
async function up<T extends SideHttpServer>(s: T): Promise<string> {
  started.push(s);
  const a = await s.start();
  return `http://127.0.0.1:${a.port}`;
}
afterEach(async () => {
  for (const s of started.splice(0)) await s.drain(100);
});

describe('ReadyServer', () => {
  test('503 with the reason until ready, then 200', async () => {
    let state: boolean | string = 'waiting for certificates';
    const base = await up(new ReadyServer({ port: 0, ready: () => state }));
    let r = await fetch(`${base}/healthz/ready`);
    expect(r.status).toBe(503);
    expect(await r.text()).toBe('not ready: waiting for certificates\n');
    state = false;
    expect((await fetch(`${base}/healthz/ready`)).status).toBe(503);
    state = true;
    r = await fetch(`${base}/healthz/ready`);
    expect([r.status, await r.text()]).toEqual([200, 'ready\n']);
    expect((await fetch(`${base}/healthz/ready`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${base}/healthz/ready`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});

describe('StatsServer', () => {
  test('Istio TCP counters and a prom-client registry on /stats/prometheus and /metrics', async () => {
    const tcp = new TcpMetrics();
    const m = tcp.open(tcpLabels({ reporter: 'source', source: { workload: 'sleep' }, securityPolicy: 'mutual_tls' }));
    m.received += 42;
    const registry = new Registry();
    new Counter({ name: 'weft_example_total', help: 'x', registers: [registry] }).inc(3);
    const base = await up(new StatsServer({ port: 0, metrics: [tcp, registry] }));
    for (const path of ['/stats/prometheus', '/metrics']) {
      const r = await fetch(`${base}${path}`);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const body = await r.text();
      expect(body).toMatch(/^istio_tcp_received_bytes_total\{reporter="source",source_workload="sleep",.*connection_security_policy="mutual_tls"\} 42$/m);
      expect(body).toMatch(/^istio_tcp_connections_opened_total\{.*\} 1$/m);
      expect(body).toMatch(/^weft_example_total 3$/m);
    }
  });

  test('a failing source gives 500, the server lives on', async () => {
    let fail = true;
    const base = await up(new StatsServer({ port: 0, metrics: { metrics: () => (fail ? Promise.reject(new Error('boom')) : 'ok 1\n') } }));
    expect((await fetch(`${base}/metrics`)).status).toBe(500);
    fail = false;
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('ok 1\n');
  });
});

describe('AdminServer', () => {
  test('/config_dump as JSON with private keys redacted, /logging, index', async () => {
    let level = 'info';
    const base = await up(
      new AdminServer({
        port: 0,
        configDump: () => ({ workloads: [{ name: 'a' }], certificates: [{ spiffe: 'spiffe://td/ns/a/sa/b', privateKey: 'SECRET', chain: ['pem'] }] }),
        logging: { level: () => level, setLevel: (l) => (['debug', 'info', 'warn'].includes(l) ? void (level = l) : `unknown level ${l}`) },
        extra: { '/certs': () => [{ serial: '01' }] },
      }),
    );
    const r = await fetch(`${base}/config_dump`);
    expect(r.headers.get('content-type')).toBe('application/json');
    const body = await r.text();
    expect(body).not.toContain('SECRET');
    expect(JSON.parse(body)).toMatchObject({ workloads: [{ name: 'a' }], certificates: [{ privateKey: '[redacted]', chain: ['pem'] }] });
    expect(await (await fetch(`${base}/logging`)).json()).toEqual({ level: 'info' });
    expect(await (await fetch(`${base}/logging?level=debug`, { method: 'POST' })).json()).toEqual({ level: 'debug' });
    expect((await fetch(`${base}/logging?level=loud`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${base}/config_dump`, { method: 'POST' })).status).toBe(405);
    expect(await (await fetch(`${base}/certs`)).json()).toEqual([{ serial: '01' }]);
    const index = await (await fetch(`${base}/`)).text();
    expect(index).toContain('/config_dump');
    expect(index).toContain('/logging');
  });

  test('drain closes keep-alive connections and frees the port', async () => {
    const s = new AdminServer({ port: 0, configDump: () => ({}) });
    const { port } = await s.start();
    await fetch(`http://127.0.0.1:${port}/config_dump`);
    await s.drain(100);
    await expect(fetch(`http://127.0.0.1:${port}/config_dump`)).rejects.toThrow();
  });
});
