import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniCall } from './client.ts';
import { parseCniRequest } from './protocol.ts';
import { CniServer } from './server.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function socketPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cni-unit-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'run', 'node.sock'); // a missing directory is made
}

function raw(socket: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('CNI protocol', () => {
  it('validates requests', () => {
    expect(parseCniRequest('add', { pod: 'default/a', netns: '/run/netns/x' })).toEqual({ pod: 'default/a', netns: '/run/netns/x' });
    expect(parseCniRequest('del', { pod: 'default/a' })).toEqual({ pod: 'default/a' });
    expect(parseCniRequest('add', { pod: 'default/a' })).toMatch(/netns is required/);
    expect(parseCniRequest('add', { pod: 'a', netns: '/x' })).toMatch(/NAMESPACE\/NAME/);
    expect(parseCniRequest('add', { pod: 'Default/a', netns: '/x' })).toMatch(/not a valid namespace/);
    expect(parseCniRequest('add', { pod: 'default/a', netns: 'relative' })).toMatch(/absolute path/);
    expect(parseCniRequest('add', [])).toMatch(/JSON object/);
  });
});

describe('CniServer and cniCall over a Unix socket', () => {
  it('hands ADD and DEL to the callbacks and returns their outcome', async () => {
    const path = await socketPath();
    const calls: string[] = [];
    const server = new CniServer({
      socketPath: path,
      onAdd: (pod, netns) => {
        calls.push(`add ${pod} ${netns}`);
        if (pod === 'default/bad') throw new Error('no such pod on this node');
        return { message: 'enrolled' };
      },
      onDel: (pod, netns) => void calls.push(`del ${pod} ${netns ?? '-'}`),
    });
    await server.start();
    cleanup.push(() => server.close());
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await cniCall(path, 'add', { pod: 'default/a', netns: '/run/netns/a' })).toEqual({ ok: true, message: 'enrolled' });
    expect(await cniCall(path, 'del', { pod: 'default/a' })).toEqual({ ok: true });
    await expect(cniCall(path, 'add', { pod: 'default/bad', netns: '/run/netns/b' })).rejects.toThrow('add default/bad: no such pod on this node');
    expect(calls).toEqual(['add default/a /run/netns/a', 'del default/a -', 'add default/bad /run/netns/b']);

    expect(await raw(path, 'GET', '/healthz')).toEqual({ status: 200, body: '{"ok":true}\n' });
    expect((await raw(path, 'POST', '/v1/cni/add', '{not json')).status).toBe(400);
    expect((await raw(path, 'POST', '/v1/cni/add', '{"pod":"x"}')).status).toBe(400);
    expect((await raw(path, 'GET', '/v1/cni/nope')).status).toBe(404);
  });

  it('replaces a stale socket file, refuses a live one, and removes its file on close', async () => {
    const path = await socketPath();
    const first = new CniServer({ socketPath: path, onAdd: () => {}, onDel: () => {} });
    await first.start();
    await expect(new CniServer({ socketPath: path, onAdd: () => {}, onDel: () => {} }).start()).rejects.toThrow(/another process is serving/);
    await first.close();
    await expect(stat(path)).rejects.toThrow();
    await writeFile(path, ''); // what a crashed node proxy leaves
    const second = new CniServer({ socketPath: path, onAdd: () => {}, onDel: () => {} });
    await second.start();
    cleanup.push(() => second.close());
    expect(await cniCall(path, 'del', { pod: 'default/a' })).toEqual({ ok: true });
  });

  it('says what to check when no node proxy listens', async () => {
    const path = await socketPath();
    await expect(cniCall(path, 'add', { pod: 'default/a', netns: '/x' })).rejects.toThrow(/no node proxy is listening on .*node\.sock \(ENOENT\): is `weft node` running/);
  });
});
