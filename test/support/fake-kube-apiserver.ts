/**
 * A fake Kubernetes API server for tests (no real one runs here): it speaks the list/watch protocol
 * as kube-apiserver does (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes),
 * so `@kubernetes/client-node` and `weft control --kubernetes` run against it unchanged.
 *
 * - One global resourceVersion, increased by every write; lists and objects carry it.
 * - WATCH replays events after `resourceVersion=N` from a bounded history; when N is older than the
 *   history, an ERROR event with a Status of code 410 reason Expired, then the stream ends (what
 *   the real server sends). Without N (or N=0): synthetic ADDED events for what exists, then live.
 *   `allowWatchBookmarks` gets BOOKMARK events; `timeoutSeconds` ends the stream.
 * - Discovery (`/api`, `/apis`, `/api/v1`, `/apis/<g>`, `/apis/<g>/<v>`) for the resources served;
 *   creating a CustomResourceDefinition makes its resource served, deleting it stops that.
 * - Writes from the test (`apply`, `create`, `update`, `remove`) or over HTTP (POST, PUT, PATCH with a
 *   merge patch or server-side apply, DELETE; PUT `.../status`), so rendered manifests can be applied.
 * - For resume tests: `dropWatches()`, `compactHistory()`, `offline` (every request gets 503), and a
 *   request log.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { BUILTIN, WEFT_CRDS, crdObject, type ResourceDef } from './fake-kube-resources.ts';
import { HttpError, mergePatch, resourceList, selector, statusObject, versionOrder, withVersion, type Obj } from './fake-kube-protocol.ts';

export { WEFT_CRDS, crdObject, type ResourceDef };

interface Event {
  rv: number;
  /** group/plural */
  res: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: Obj;
}
interface WatchStream {
  res: ServerResponse;
  timers: ReturnType<typeof setTimeout>[];
}
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface FakeKubeOptions {
  /** Events kept for resuming watches (default 1000). */
  historySize?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms; the real server: about a minute). */
  bookmarkMs?: number;
  /** A bearer token every request must carry (none: no check). */
  token?: string;
}


const resKey = (d: { group: string; plural: string }) => `${d.group}/${d.plural}`;
const apiVersionOf = (group: string, version: string) => (group ? `${group}/${version}` : version);
const clone = <T>(v: T): T => structuredClone(v);

export class FakeKubeApiServer {
  readonly #defs = new Map<string, ResourceDef>();
  /** group/plural -> "ns/name" -> object (stored with the apiVersion it was written with). */
  readonly #objects = new Map<string, Map<string, Obj>>();
  #rv = 1;
  #history: Event[] = [];
  /** Resuming from a resourceVersion below this one gets 410 Gone. */
  #oldestRv = 1;
  readonly #watches = new Set<WatchStream>();
  /** Continue tokens of paged lists. */
  readonly #pages = new Map<string, { items: Obj[]; rv: number; offset: number }>();
  readonly #opts: Required<Omit<FakeKubeOptions, 'token'>> & { token?: string };
  #server?: Server;
  readonly log: LoggedRequest[] = [];
  /** While true, every request is answered 503 (the API server unreachable). */
  offline = false;

  constructor(opts: FakeKubeOptions = {}) {
    this.#opts = { historySize: opts.historySize ?? 1000, bookmarkMs: opts.bookmarkMs ?? 1000, ...(opts.token ? { token: opts.token } : {}) };
    for (const d of BUILTIN) this.#defs.set(resKey(d), d);
  }

  get url(): string {
    const addr = this.#server?.address() as AddressInfo | undefined;
    if (!addr) throw new Error('fake API server is not listening');
    return `http://127.0.0.1:${addr.port}`;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  async listen(port = 0): Promise<string> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    return this.url;
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** A kubeconfig (YAML) pointing at this server over plain HTTP. */
  kubeconfig(namespace = 'default'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
      'users:',
      `- name: fake\n  user:\n    token: ${this.#opts.token ?? 'fake-token'}`,
      'contexts:',
      `- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: ${namespace}`,
      'current-context: fake',
      '',
    ].join('\n');
  }

  // --- the test's side ---------------------------------------------------------------------------

  /** Creates or replaces any object whose kind is served (a CRD makes its kind served). */
  apply(obj: object): Obj {
    const o = obj as Obj;
    const def = this.#defFor(o.apiVersion, o.kind);
    const ns = def.namespaced ? (o.metadata?.namespace ?? 'default') : undefined;
    return this.#exists(def, ns, o.metadata?.name) ? this.#write(def, ns, o, 'update') : this.#write(def, ns, o, 'create');
  }

  create(obj: object): Obj {
    const o = obj as Obj;
    const def = this.#defFor(o.apiVersion, o.kind);
    return this.#write(def, def.namespaced ? (o.metadata?.namespace ?? 'default') : undefined, o, 'create');
  }

  update(obj: object): Obj {
    const o = obj as Obj;
    const def = this.#defFor(o.apiVersion, o.kind);
    return this.#write(def, def.namespaced ? (o.metadata?.namespace ?? 'default') : undefined, o, 'update');
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj {
    const def = this.#defFor(apiVersion, kind);
    return this.#delete(def, def.namespaced ? (namespace ?? 'default') : undefined, name);
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const def = this.#defFor(apiVersion, kind);
    const o = this.#objects.get(resKey(def))?.get(`${def.namespaced ? (namespace ?? 'default') : ''}/${name}`);
    return o ? clone(o) : undefined;
  }

  /** Installs CustomResourceDefinitions for the given custom resources (default: all Weft reads). */
  installCrds(defs: readonly ResourceDef[] = WEFT_CRDS): void {
    for (const d of defs) this.apply(crdObject(d));
  }

  /** Closes every watch stream abruptly (a dropped connection), as a restarted API server or a network cut would. */
  dropWatches(): number {
    const n = this.#watches.size;
    for (const w of [...this.#watches]) this.#endWatch(w, true);
    return n;
  }

  /** Forgets the event history: a watch resumed from any resourceVersion before now gets 410 Gone. */
  compactHistory(): void {
    this.#history = [];
    this.#oldestRv = this.#rv;
    this.#pages.clear();
  }

  /** Requests whose path matches (all when no filter). */
  requests(filter?: { method?: string; path?: string | RegExp; watch?: boolean }): LoggedRequest[] {
    return this.log.filter((r) =>
      (!filter?.method || r.method === filter.method) &&
      (filter?.path === undefined || (typeof filter.path === 'string' ? r.path === filter.path : filter.path.test(r.path))) &&
      (filter?.watch === undefined || (r.query.watch === 'true' || r.query.watch === '1') === filter.watch));
  }

  watchCount(): number {
    return this.#watches.size;
  }

  // --- storage -----------------------------------------------------------------------------------

  #defFor(apiVersion: string | undefined, kind: string | undefined): ResourceDef {
    const [group, version] = String(apiVersion ?? '').includes('/') ? String(apiVersion).split('/') as [string, string] : ['', String(apiVersion ?? '')];
    for (const d of this.#defs.values()) if (d.group === group && d.kind === kind && d.versions.includes(version)) return d;
    throw new HttpError(404, 'NotFound', `the server could not find the requested resource: no matches for kind "${kind}" in version "${apiVersion}"`);
  }

  #exists(def: ResourceDef, ns: string | undefined, name: string): boolean {
    return this.#objects.get(resKey(def))?.has(`${ns ?? ''}/${name}`) ?? false;
  }

  #write(def: ResourceDef, ns: string | undefined, input: Obj, mode: 'create' | 'update' | 'status'): Obj {
    const name = input.metadata?.name;
    if (!name) throw new HttpError(422, 'Invalid', `${def.kind}: metadata.name: Required value`);
    const key = resKey(def);
    let bucket = this.#objects.get(key);
    if (!bucket) this.#objects.set(key, (bucket = new Map()));
    const id = `${ns ?? ''}/${name}`;
    const prev = bucket.get(id);
    if (mode === 'create' && prev) throw new HttpError(409, 'AlreadyExists', `${def.plural} "${name}" already exists`);
    if (mode !== 'create' && !prev) throw new HttpError(404, 'NotFound', `${def.plural} "${name}" not found`);
    const sentRv = input.metadata?.resourceVersion;
    if (prev && sentRv && sentRv !== prev.metadata.resourceVersion) {
      throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${def.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const base: Obj = mode === 'status' ? { ...clone(prev!), status: clone(input.status) } : clone(input);
    const rv = ++this.#rv;
    const specChanged = !prev || JSON.stringify(prev.spec) !== JSON.stringify(base.spec);
    const obj: Obj = {
      ...base,
      apiVersion: base.apiVersion ?? apiVersionOf(def.group, def.versions[0]!),
      kind: def.kind,
      metadata: {
        ...base.metadata,
        name,
        ...(ns !== undefined ? { namespace: ns } : {}),
        uid: prev?.metadata.uid ?? randomUUID(),
        creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        generation: (prev?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
        resourceVersion: String(rv),
      },
    };
    if (mode === 'update' && prev && 'status' in prev && !('status' in input)) obj.status = prev.status;
    if (obj.metadata.namespace === undefined) delete obj.metadata.namespace;
    bucket.set(id, obj);
    this.#record({ rv, res: key, type: prev ? 'MODIFIED' : 'ADDED', obj });
    if (def.group === 'apiextensions.k8s.io' && def.kind === 'CustomResourceDefinition') this.#serveCrd(obj);
    return clone(obj);
  }

  #delete(def: ResourceDef, ns: string | undefined, name: string): Obj {
    const key = resKey(def);
    const bucket = this.#objects.get(key);
    const prev = bucket?.get(`${ns ?? ''}/${name}`);
    if (!prev) throw new HttpError(404, 'NotFound', `${def.plural} "${name}" not found`);
    bucket!.delete(`${ns ?? ''}/${name}`);
    const rv = ++this.#rv;
    const obj = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    this.#record({ rv, res: key, type: 'DELETED', obj });
    if (def.group === 'apiextensions.k8s.io' && def.kind === 'CustomResourceDefinition') {
      const spec = prev.spec ?? {};
      const served = resKey({ group: spec.group, plural: spec.names?.plural });
      this.#defs.delete(served);
      this.#objects.delete(served);
      for (const w of [...this.#watches]) if ((w as WatchStream & { key?: string }).key === served) this.#endWatch(w, false);
    }
    if (def.kind === 'Namespace') {
      // Namespace deletion takes what is in it (at once, no finalizers here).
      for (const [k, b] of this.#objects) {
        const d = this.#defs.get(k);
        if (!d?.namespaced) continue;
        for (const [id, o] of [...b]) if (o.metadata.namespace === name) this.#delete(d, name, id.slice(name.length + 1));
      }
    }
    return clone(obj);
  }

  #serveCrd(crd: Obj): void {
    const spec = crd.spec ?? {};
    const versions = (spec.versions ?? []).filter((v: { served?: boolean }) => v.served !== false).map((v: { name: string }) => v.name);
    const def: ResourceDef = { group: spec.group, versions, kind: spec.names?.kind, plural: spec.names?.plural, namespaced: spec.scope !== 'Cluster', crd: true };
    this.#defs.set(resKey(def), def);
  }

  #record(e: Event): void {
    this.#history.push(e);
    if (this.#history.length > this.#opts.historySize) {
      const dropped = this.#history.splice(0, this.#history.length - this.#opts.historySize);
      this.#oldestRv = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.#watches) (w as WatchStream & { onEvent?: (e: Event) => void }).onEvent?.(e);
  }

  // --- HTTP --------------------------------------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0 };
    this.log.push(entry);
    const reply = (code: number, body: unknown) => {
      entry.status = code;
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const fail = (err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      reply(e.code, statusObject(e.code, e.reason, e.message));
    };
    if (this.offline) return fail(new HttpError(503, 'ServiceUnavailable', 'the API server is offline (test)'));
    if (this.#opts.token && req.headers.authorization !== `Bearer ${this.#opts.token}`) return fail(new HttpError(401, 'Unauthorized', 'Unauthorized'));
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        const out = this.#route(req, url, body, res, entry);
        if (out !== undefined) reply(out.code ?? 200, out.body);
      } catch (err) {
        fail(err);
      }
    });
  }

  /** Returns the reply, or undefined when the response is a watch stream. */
  #route(req: IncomingMessage, url: URL, body: string, res: ServerResponse, entry: LoggedRequest): { code?: number; body: unknown } | undefined {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (method === 'GET' && parts.length === 1 && parts[0] === 'api') return { body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    if (method === 'GET' && parts.length === 1 && parts[0] === 'apis') return { body: { kind: 'APIGroupList', apiVersion: 'v1', groups: this.#groups() } };
    if (method === 'GET' && parts.length === 1 && parts[0] === 'version') return { body: { major: '1', minor: '34', gitVersion: 'v1.34.0-fake' } };
    if (parts[0] !== 'api' && parts[0] !== 'apis') throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    let i = 1;
    const group = parts[0] === 'api' ? '' : parts[i++];
    if (group === undefined) throw new HttpError(404, 'NotFound', 'not found');
    const version = parts[i++];
    if (version === undefined) {
      const g = this.#groups().find((x) => x.name === group);
      if (!g || method !== 'GET') throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      return { body: { kind: 'APIGroup', apiVersion: 'v1', ...g } };
    }
    const served = [...this.#defs.values()].filter((d) => d.group === group && d.versions.includes(version));
    if (parts.length === i) {
      if (served.length === 0 || method !== 'GET') throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      return { body: resourceList(apiVersionOf(group, version), served) };
    }
    let ns: string | undefined;
    if (parts[i] === 'namespaces' && parts.length >= i + 3) {
      ns = parts[i + 1];
      i += 2;
    }
    const plural = parts[i++];
    const def = served.find((d) => d.plural === plural);
    if (!def) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    if (ns !== undefined && !def.namespaced) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const name = parts[i++];
    const sub = parts[i++];
    const apiVersion = apiVersionOf(group, version);
    const q = url.searchParams;
    const input = () => {
      const parsed = (req.headers['content-type'] ?? '').includes('yaml') ? parseYaml(body) : JSON.parse(body || '{}');
      return { ...parsed, apiVersion } as Obj;
    };
    const scopeNs = def.namespaced ? ns : undefined;
    if (name === undefined) {
      if (method === 'GET') {
        if (q.get('watch') === 'true' || q.get('watch') === '1') {
          this.#watch(def, apiVersion, ns, q, res, entry);
          return undefined;
        }
        return { body: this.#list(def, apiVersion, ns, q) };
      }
      if (method === 'POST') {
        const o = input();
        if (def.namespaced && ns === undefined && !o.metadata?.namespace) throw new HttpError(404, 'NotFound', 'namespace required');
        return { code: 201, body: withVersion(this.#write(def, def.namespaced ? (ns ?? o.metadata?.namespace) : undefined, o, 'create'), apiVersion) };
      }
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on a collection here`);
    }
    const id = `${scopeNs ?? ''}/${name}`;
    const current = () => {
      const o = this.#objects.get(resKey(def))?.get(id);
      if (!o) throw new HttpError(404, 'NotFound', `${def.plural} "${name}" not found`);
      return o;
    };
    if (sub !== undefined && sub !== 'status') throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    switch (method) {
      case 'GET':
        return { body: withVersion(current(), apiVersion) };
      case 'PUT': {
        const o = input();
        return { body: withVersion(this.#write(def, scopeNs, { ...o, metadata: { ...o.metadata, name } }, sub === 'status' ? 'status' : 'update'), apiVersion) };
      }
      case 'PATCH': {
        const type = String(req.headers['content-type'] ?? '');
        const patch = input();
        if (type.includes('apply-patch')) {
          // Server-side apply, simplified: create, or merge into what is there (no field ownership).
          const prev = this.#objects.get(resKey(def))?.get(id);
          const merged = prev ? mergePatch(clone(prev), { ...patch, metadata: { ...patch.metadata, resourceVersion: undefined } }) : patch;
          return { code: prev ? 200 : 201, body: withVersion(this.#write(def, scopeNs, { ...merged, metadata: { ...merged.metadata, name } }, prev ? 'update' : 'create'), apiVersion) };
        }
        if (!type.includes('merge-patch') && !type.includes('strategic-merge-patch')) throw new HttpError(415, 'UnsupportedMediaType', `patch type ${type} is not supported by the fake`);
        // A resourceVersion in the patch is a precondition (409 when stale); without one, none.
        const merged = mergePatch(clone(current()), patch);
        return { body: withVersion(this.#write(def, scopeNs, merged, sub === 'status' ? 'status' : 'update'), apiVersion) };
      }
      case 'DELETE':
        return { body: withVersion(this.#delete(def, scopeNs, name), apiVersion) };
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed`);
    }
  }

  #groups() {
    const byGroup = new Map<string, Set<string>>();
    for (const d of this.#defs.values()) {
      if (!d.group) continue;
      let s = byGroup.get(d.group);
      if (!s) byGroup.set(d.group, (s = new Set()));
      for (const v of d.versions) s.add(v);
    }
    return [...byGroup].map(([name, vs]) => {
      const versions = [...vs].sort(versionOrder).map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
      return { name, versions, preferredVersion: versions[0]! };
    });
  }

  /** LIST, paged when asked (`limit`, `continue`): every page is of the state when the first was asked for, as etcd's snapshot reads are. */
  #list(def: ResourceDef, apiVersion: string, ns: string | undefined, q: URLSearchParams) {
    const token = q.get('continue');
    let page: { items: Obj[]; rv: number; offset: number };
    if (token) {
      const kept = this.#pages.get(token);
      if (!kept) throw new HttpError(410, 'Expired', 'The provided continue parameter is too old');
      page = kept;
    } else {
      page = { items: this.#select(def, ns, q).map((o) => withVersion(o, apiVersion)), rv: this.#rv, offset: 0 };
    }
    const limit = Number(q.get('limit')) || Infinity;
    const items = page.items.slice(page.offset, page.offset + limit);
    const next = page.offset + items.length;
    const metadata: Record<string, string> = { resourceVersion: String(page.rv) };
    if (next < page.items.length) {
      metadata.continue = randomUUID();
      this.#pages.set(metadata.continue, { ...page, offset: next });
    }
    return { kind: `${def.kind}List`, apiVersion, metadata, items };
  }

  #select(def: ResourceDef, ns: string | undefined, q: URLSearchParams): Obj[] {
    const match = selector(q);
    return [...(this.#objects.get(resKey(def))?.values() ?? [])]
      .filter((o) => (ns === undefined || o.metadata.namespace === ns) && match(o))
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  }

  #watch(def: ResourceDef, apiVersion: string, ns: string | undefined, q: URLSearchParams, res: ServerResponse, entry: LoggedRequest): void {
    entry.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // As the real server does: the client's request resolves before the first event.
    res.flushHeaders();
    const key = resKey(def);
    const match = selector(q);
    const send = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
    const w: WatchStream & { key?: string; onEvent?: (e: Event) => void } = { res, timers: [], key };
    this.#watches.add(w);
    res.on('close', () => this.#endWatch(w, false));
    const forward = (e: Event) => {
      if (e.res !== key || (ns !== undefined && e.obj.metadata.namespace !== ns) || !match(e.obj)) return;
      send(e.type, withVersion(e.obj, apiVersion));
    };
    const from = q.get('resourceVersion');
    if (!from || from === '0') {
      // "Any" version: the current state as ADDED events, then live changes.
      for (const o of this.#select(def, ns, q)) send('ADDED', withVersion(o, apiVersion));
    } else if (Number(from) < this.#oldestRv) {
      send('ERROR', statusObject(410, 'Expired', `too old resource version: ${from} (${this.#oldestRv})`));
      this.#endWatch(w, false);
      return;
    } else {
      for (const e of this.#history) if (e.rv > Number(from)) forward(e);
    }
    w.onEvent = forward;
    if (q.get('allowWatchBookmarks') === 'true') {
      const t = setInterval(() => send('BOOKMARK', { kind: def.kind, apiVersion, metadata: { resourceVersion: String(this.#rv) } }), this.#opts.bookmarkMs);
      w.timers.push(t);
    }
    const timeout = Number(q.get('timeoutSeconds'));
    if (timeout > 0) w.timers.push(setTimeout(() => this.#endWatch(w, false), timeout * 1000));
  }

  #endWatch(w: WatchStream, abrupt: boolean): void {
    if (!this.#watches.delete(w)) return;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.res.destroy();
    else w.res.end();
  }
}
