import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rename, rm, writeFile, symlink, unlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigStore, type MeshSnapshot } from '../../../core/config/index.ts';
import { DirectorySource } from './directory-source.ts';
import { readConfigDir, type ReadCache } from './read-config-dir.ts';

const svc = (name: string, port: number) => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: ${port}}]
`;

const dirs: string[] = [];
const sources: DirectorySource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) s.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'weft-config-'));
  dirs.push(d);
  return d;
}

/** Resolves with the first snapshot that satisfies `pred` (bounded in time). */
function waitFor(store: ConfigStore, pred: (s: MeshSnapshot) => boolean, ms = 5000): Promise<MeshSnapshot> {
  if (pred(store.snapshot)) return Promise.resolve(store.snapshot);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching snapshot within ${ms} ms (at version ${store.snapshot.version})`));
    }, ms);
    const off = store.subscribe((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

const ports = (s: MeshSnapshot, name: string) => s.services.find((x) => x.name === name)?.ports.map((p) => p.port);

describe('readConfigDir', () => {
  it('with a cache, keeps the text of a file whose stat is unchanged and reads changed and recent files again', async () => {
    const d = await tempDir();
    const old = new Date(Date.now() - 3_600_000);
    await writeFile(join(d, 'a.yaml'), svc('a', 80));
    await writeFile(join(d, 'b.yaml'), svc('b', 80));
    await utimes(join(d, 'a.yaml'), old, old);
    const cache: ReadCache = new Map();
    const first = await readConfigDir(d, cache);
    const again = await readConfigDir(d, cache);
    const text = (r: typeof first, path: string) => r.files.find((f) => f.path === path)!.text;
    // a.yaml last changed an hour ago: its stat vouches for its text.
    expect(cache.get(join(d, 'a.yaml'))).toBeDefined();
    expect(text(again, 'a.yaml')).toBe(text(first, 'a.yaml'));
    // A rewrite of the same size with the same mtime is still seen: its ctime moved.
    await writeFile(join(d, 'a.yaml'), svc('x', 80));
    await utimes(join(d, 'a.yaml'), old, old);
    expect(text(await readConfigDir(d, cache), 'a.yaml')).toBe(svc('x', 80));
    // b.yaml changed just now: read every time until it is older, whatever its stat says.
    await writeFile(join(d, 'b.yaml'), svc('y', 80));
    expect(text(await readConfigDir(d, cache), 'b.yaml')).toBe(svc('y', 80));
    await unlink(join(d, 'b.yaml'));
    expect((await readConfigDir(d, cache)).files.map((f) => f.path)).toEqual(['a.yaml']);
    expect([...cache.keys()]).toEqual([join(d, 'a.yaml')]);
  });

  it('reads *.yaml and *.yml recursively, skipping hidden entries and other files, with relative paths', async () => {
    const d = await tempDir();
    await mkdir(join(d, 'sub', 'deeper'), { recursive: true });
    await mkdir(join(d, '..data'));
    await writeFile(join(d, 'a.yaml'), svc('a', 80));
    await writeFile(join(d, 'sub', 'b.yml'), svc('b', 80));
    await writeFile(join(d, 'sub', 'deeper', 'c.YAML'), svc('c', 80));
    await writeFile(join(d, 'notes.txt'), 'x');
    await writeFile(join(d, '.hidden.yaml'), svc('h', 80));
    await writeFile(join(d, '..data', 'd.yaml'), svc('d', 80));
    await symlink(join(d, '..data', 'd.yaml'), join(d, 'd.yaml'));
    const read = await readConfigDir(d);
    expect(read.files.map((f) => f.path)).toEqual(['a.yaml', 'd.yaml', 'sub/b.yml', 'sub/deeper/c.YAML']);
    expect(read.unreadable).toEqual([]);
  });

  it('reports a missing directory as unreadable', async () => {
    const read = await readConfigDir(join(await tempDir(), 'nope'));
    expect(read.files).toEqual([]);
    expect(read.unreadable[0]!.message).toMatch(/ENOENT/);
  });
});

describe('DirectorySource', () => {
  for (const mode of ['fs.watch', 'polling'] as const) {
    it(`picks up a file change, a new file and a deletion (${mode})`, async () => {
      const d = await tempDir();
      await writeFile(join(d, 'a.yaml'), svc('a', 80));
      const store = new ConfigStore();
      const source = new DirectorySource(d, { debounceMs: 50, pollMs: 100, forcePolling: mode === 'polling', log: () => {} });
      sources.push(source);
      await store.addSource(source);
      expect(store.snapshot.version).toBe(1);
      expect(ports(store.snapshot, 'a')).toEqual([80]);

      await writeFile(join(d, 'a.yaml'), svc('a', 8080));
      const s2 = await waitFor(store, (s) => ports(s, 'a')?.[0] === 8080);
      expect(s2.version).toBe(2);
      expect(s2.services[0]!.ports[0]!.port).toBe(8080);

      await mkdir(join(d, 'more'));
      await writeFile(join(d, 'more', 'b.yaml'), svc('b', 81));
      await waitFor(store, (s) => ports(s, 'b')?.[0] === 81);

      await unlink(join(d, 'a.yaml'));
      const s4 = await waitFor(store, (s) => ports(s, 'a') === undefined);
      expect(s4.services.map((s) => s.name)).toEqual(['b']);
    });
  }

  it('sees every save of a file that is replaced by a rename (as editors save), not only the first', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'a.yaml'), svc('a', 80));
    const store = new ConfigStore();
    const source = new DirectorySource(d, { debounceMs: 30, log: () => {} });
    sources.push(source);
    await store.addSource(source);
    const staging = await tempDir(); // written elsewhere, then renamed in: only the rename happens in d
    for (const port of [81, 82, 83, 84]) {
      await writeFile(join(staging, 'a.yaml'), svc('a', port));
      await rename(join(staging, 'a.yaml'), join(d, 'a.yaml'));
      await waitFor(store, (s) => ports(s, 'a')?.[0] === port);
    }
  });

  it('keeps serving the last good config when a file breaks, with the error in the snapshot', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'a.yaml'), svc('a', 80));
    const store = new ConfigStore();
    const source = new DirectorySource(d, { debounceMs: 20, log: () => {} });
    sources.push(source);
    await store.addSource(source);
    await writeFile(join(d, 'a.yaml'), 'kind: [broken\n');
    const s = await waitFor(store, (x) => x.issues.some((i) => i.severity === 'error'));
    expect(ports(s, 'a')).toEqual([80]);
    expect(s.issues.find((i) => i.severity === 'error')!.file).toBe('a.yaml');
  });

  it('coalesces a burst of writes into one re-read (debounce)', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'a.yaml'), svc('a', 80));
    const store = new ConfigStore();
    const source = new DirectorySource(d, { debounceMs: 300, log: () => {} });
    sources.push(source);
    await store.addSource(source);
    const versions: number[] = [];
    store.subscribe((s) => versions.push(s.version));
    for (let p = 81; p <= 85; p++) await writeFile(join(d, 'a.yaml'), svc('a', p));
    await waitFor(store, (s) => ports(s, 'a')?.[0] === 85);
    // Five writes well inside the quiet time: one re-read (two if the machine stalls mid-burst).
    expect(versions.length).toBeLessThanOrEqual(2);
    expect(versions.at(-1)).toBe(store.snapshot.version);
  });

  it('stop() ends watching', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'a.yaml'), svc('a', 80));
    const store = new ConfigStore();
    const source = new DirectorySource(d, { debounceMs: 20, log: () => {} });
    await store.addSource(source);
    source.stop();
    await writeFile(join(d, 'a.yaml'), svc('a', 81));
    await new Promise((r) => setTimeout(r, 200));
    expect(ports(store.snapshot, 'a')).toEqual([80]);
  });
});
