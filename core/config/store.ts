/**
 * The Store: the one updater of the control plane's MeshSnapshot (conventions.md 2). Sources feed it
 * through a sink: a directory source hands over its whole file set; a Kubernetes watch source (a later
 * issue) upserts and deletes objects. Each change is validated off to the side (verdicts cached per file
 * text), merged with the resource as the unit of rejection, translated, and swapped in once. The version
 * goes up only when what the snapshot serves changes; a change of issues alone gives a new snapshot
 * object with the same version.
 *
 * A change costs what it changes, not the size of the mesh: unchanged text keeps its resource objects,
 * the per-kind lists are patched (kinds not touched keep their list), and the MeshBuilder remakes only
 * the workloads and services the changed resources reach; everything else is shared with the previous
 * snapshot by identity.
 */
import type { SourceFile } from '../ports/index.ts';
import type { ConfigIssue } from './issues.ts';
import type { ConfigResource, MeshSettings, MeshSnapshot } from './snapshot.ts';
import type { PathSegment } from './field-path.ts';
import { NO_LINES } from './field-path.ts';
import { chunkLocator, parseSourceFile } from './parse-file.ts';
import { validateObject } from './validate.ts';
import { UnitMerger, type Accepted, type Unit } from './merge.ts';
import { lookupKind, splitApiVersion } from './kinds.ts';
import { DEFAULT_MESH_SETTINGS, meshSettingsFrom, parseMeshConfig } from './mesh-settings.ts';
import { MESH_CONFIGMAP } from './mesh-configmap.ts';
import { assembleSnapshot, buildMesh } from './build-snapshot.ts';
import { MeshBuilder, unchanged, type BuiltMesh } from './mesh-builder.ts';
import { updateSorted, type ListDiff } from './list-diff.ts';
import { stableStringify } from './stable-json.ts';

/** A file a source could not read: its previous resources stay in force. */
export interface UnreadableFile {
  path: string;
  message: string;
}

/** Names one object of a watch source. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** What messages name an object's source by: one name for all, or one per object (`k8s:v1/Service/prod/web`). */
export type ObjectOrigin = string | ((obj: unknown) => string);

export interface SourceSink {
  /** The whole set of files this source holds now (a directory source); files left out are deleted. */
  replaceFiles(files: readonly SourceFile[], unreadable?: readonly UnreadableFile[]): void;
  /** Objects added or changed (a watch source); `origin` names them in messages (e.g. `k8s`), or names each one. */
  upsertObjects(objects: readonly unknown[], origin?: ObjectOrigin): void;
  deleteObjects(refs: readonly ObjectRef[]): void;
  /** The whole set of objects this source holds now (a watch source's initial list). */
  replaceObjects(objects: readonly unknown[], origin?: ObjectOrigin): void;
}

export interface ConfigSource {
  readonly id: string;
  start(sink: SourceSink): void | Promise<void>;
  stop(): void | Promise<void>;
}

export interface StoreOptions {
  /** A bare MeshConfig file (`--mesh`); it takes precedence over the ConfigMap istio-system/istio. */
  meshFile?: SourceFile;
  rootCa?: MeshSettings['rootCa'];
  clusterId?: string;
  network?: string;
  domainSuffix?: string;
  /** Where a subscriber's exception goes; without it, the first one is rethrown after all were called. */
  onSubscriberError?: (err: unknown) => void;
}

type Listener = (snapshot: MeshSnapshot) => void;

const objectKey = (apiVersion: string, kind: string, namespace: string | undefined, name: string) => {
  const found = lookupKind(apiVersion, kind);
  const gk = found.found === 'ok' || found.found === 'version' ? found.def.gk : `${splitApiVersion(apiVersion).group}/${kind}`;
  const ns = found.found === 'ok' && !found.def.namespaced ? '' : (namespace || 'default');
  return `${gk}/${ns}/${name}`;
};

export class ConfigStore {
  readonly #units = new Map<string, Unit & { sourceId: string }>();
  readonly #listeners = new Set<Listener>();
  readonly #sources = new Map<string, ConfigSource>();
  readonly #base: MeshSettings;
  readonly #onError: ((err: unknown) => void) | undefined;
  #meshFile: SourceFile | undefined;
  #lastGoodMeshFile: MeshSettings | undefined;
  readonly #merger = new UnitMerger();
  /** Units changed since the last merge. */
  readonly #dirty = new Set<string>();
  /** What the snapshot's resource lists hold, by id; ids whose accepted resource changed since. */
  readonly #listed = new Map<string, Accepted>();
  readonly #pending = new Set<string>();
  readonly #lists = new Map<string, { own: ConfigResource[]; published: readonly ConfigResource[] }>();
  readonly #acceptedOf = new WeakMap<ConfigResource, Accepted>();
  #meshKey = '';
  readonly #builder = new MeshBuilder();
  #built: BuiltMesh | undefined;
  #issuesKey = '';
  #snapshot: MeshSnapshot;

  constructor(opts: StoreOptions = {}) {
    this.#base = Object.freeze({
      ...DEFAULT_MESH_SETTINGS,
      ...(opts.rootCa ? { rootCa: opts.rootCa } : {}),
      ...(opts.clusterId ? { clusterId: opts.clusterId } : {}),
      ...(opts.network !== undefined ? { network: opts.network } : {}),
      ...(opts.domainSuffix ? { domainSuffix: opts.domainSuffix } : {}),
    });
    this.#meshFile = opts.meshFile;
    this.#onError = opts.onSubscriberError;
    this.#snapshot = assembleSnapshot(0, this.#base, new Map(), buildMesh(this.#base, new Map()), []);
    this.#apply(true);
  }

  get snapshot(): MeshSnapshot {
    return this.#snapshot;
  }

  /** Called with every new snapshot; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The sink a source feeds; usable directly (tests, `weft analyze`). */
  sink(sourceId: string): SourceSink {
    const prefix = `${sourceId}\0`;
    const fileKey = (path: string) => `${prefix}f\0${path}`;
    const objKey = (k: string) => `${prefix}o\0${k}`;
    const ownKeys = (kind: 'f' | 'o') => [...this.#units.keys()].filter((k) => k.startsWith(`${prefix}${kind}\0`));
    const upsert = (objects: readonly unknown[], origin: ObjectOrigin = sourceId) => {
      for (const obj of objects) {
        const file = typeof origin === 'function' ? origin(obj) : origin;
        const o = (obj ?? {}) as { apiVersion?: string; kind?: string; metadata?: { namespace?: string; name?: string } };
        const id = objectKey(String(o.apiVersion ?? ''), String(o.kind ?? ''), o.metadata?.namespace, String(o.metadata?.name ?? ''));
        const entry = validateObject(obj, { file, locator: NO_LINES });
        this.#setUnit(objKey(id), { key: objKey(id), sourceId, file, good: { entries: [entry], warnings: [] } });
      }
    };
    return {
      replaceFiles: (files, unreadable = []) => {
        const keep = new Set<string>();
        for (const file of files) {
          const key = fileKey(file.path);
          keep.add(key);
          const prev = this.#units.get(key);
          if (prev && !prev.failure && prev.good?.text === file.text) continue;
          const parsed = parseSourceFile(file, prev?.good?.cache);
          this.#setUnit(key, parsed.ok
            ? { key, sourceId, file: file.path, good: { text: file.text, entries: parsed.entries, warnings: parsed.issues, cache: parsed.cache } }
            : { key, sourceId, file: file.path, ...(prev?.good ? { good: prev.good } : {}), failure: parsed.issues });
        }
        for (const u of unreadable) {
          const key = fileKey(u.path);
          keep.add(key);
          const prev = this.#units.get(key);
          const failure: ConfigIssue[] = [{ severity: 'error', file: u.path, line: 0, path: '', message: `cannot read: ${u.message}` }];
          this.#setUnit(key, { key, sourceId, file: u.path, ...(prev?.good ? { good: prev.good } : {}), failure });
        }
        for (const k of ownKeys('f')) if (!keep.has(k)) this.#setUnit(k, undefined);
        this.#apply();
      },
      upsertObjects: (objects, origin) => {
        upsert(objects, origin);
        this.#apply();
      },
      deleteObjects: (refs) => {
        for (const r of refs) this.#setUnit(objKey(objectKey(r.apiVersion, r.kind, r.namespace, r.name)), undefined);
        this.#apply();
      },
      replaceObjects: (objects, origin) => {
        for (const k of ownKeys('o')) this.#setUnit(k, undefined);
        upsert(objects, origin);
        this.#apply();
      },
    };
  }

  /** Starts a source feeding this store. */
  async addSource(source: ConfigSource): Promise<void> {
    if (this.#sources.has(source.id)) throw new Error(`config source ${source.id} is already added`);
    this.#sources.set(source.id, source);
    await source.start(this.sink(source.id));
  }

  /** Stops a source and forgets what it provided. */
  async removeSource(id: string): Promise<void> {
    const source = this.#sources.get(id);
    this.#sources.delete(id);
    await source?.stop();
    for (const k of [...this.#units.keys()]) if (k.startsWith(`${id}\0`)) this.#setUnit(k, undefined);
    this.#apply();
  }

  async close(): Promise<void> {
    for (const s of [...this.#sources.values()]) await s.stop();
    this.#sources.clear();
  }

  /** A new `--mesh` file (or none): re-read, keeping the last good settings when the text is bad. */
  setMeshFile(file: SourceFile | undefined): void {
    this.#meshFile = file;
    if (!file) this.#lastGoodMeshFile = undefined;
    this.#apply();
  }

  #mesh(accepted: ReadonlyMap<string, Accepted>): { settings: MeshSettings; issues: ConfigIssue[] } {
    const cmId = `/ConfigMap/${MESH_CONFIGMAP.namespace}/${MESH_CONFIGMAP.name}`;
    const cm = accepted.get(cmId)?.resource;
    if (this.#meshFile) {
      const parsed = parseMeshConfig(this.#meshFile.text, { file: this.#meshFile.path });
      if (parsed.config) this.#lastGoodMeshFile = meshSettingsFrom(parsed.config, this.#base);
      const issues = [...parsed.issues];
      if (cm) {
        issues.push({
          severity: 'warning', file: cm.origin.file, line: cm.origin.line, resource: { kind: 'ConfigMap', namespace: cm.metadata.namespace, name: cm.metadata.name },
          path: 'data.mesh', message: `is ignored: the mesh file ${this.#meshFile.path} takes precedence`,
        });
      }
      return { settings: this.#lastGoodMeshFile ?? this.#base, issues };
    }
    const text = (cm?.extra?.data as Record<string, string> | undefined)?.[MESH_CONFIGMAP.key];
    // The ConfigMap was validated with its MeshConfig when accepted: its issues are already reported.
    const config = text !== undefined ? parseMeshConfig(text, { file: cm!.origin.file }).config : undefined;
    return { settings: meshSettingsFrom(config, this.#base), issues: [] };
  }

  #setUnit(key: string, unit: (Unit & { sourceId: string }) | undefined): void {
    if (unit) this.#units.set(key, unit);
    else if (!this.#units.delete(key)) return;
    this.#dirty.add(key);
  }

  #apply(initial = false): void {
    for (const key of this.#dirty) this.#merger.update(key, this.#units.get(key));
    this.#dirty.clear();
    const merged = this.#merger.merge();
    const accepted = this.#merger.accepted;
    for (const id of merged.changed.keys()) this.#pending.add(id);
    const mesh = this.#mesh(accepted);
    const issues = [...merged.issues, ...mesh.issues];
    const meshKey = stableStringify(mesh.settings);
    const delta = this.#diff(accepted);

    const changed = delta.content || meshKey !== this.#meshKey;
    let version = this.#snapshot.version;
    let resources = this.#snapshot.resources;
    if (changed || !this.#built) {
      version = initial && accepted.size === 0 ? version : version + 1;
      const before = this.#snapshot.resources;
      resources = this.#updateLists(delta.byKind);
      for (const id of this.#pending) {
        const a = accepted.get(id);
        if (a) {
          this.#listed.set(id, a);
          this.#acceptedOf.set(a.resource, a);
        } else this.#listed.delete(id);
      }
      this.#pending.clear();
      this.#meshKey = meshKey;
      this.#built = this.#builder.build(mesh.settings, resources, this.#locate(), { before, byKind: delta.byKind });
    }
    const issuesKey = JSON.stringify(issues);
    if (!changed && issuesKey === this.#issuesKey) return;
    this.#issuesKey = issuesKey;
    // A change of issues alone: the same lists, nothing changed in them.
    if (!changed) this.#built = unchanged(this.#built!);
    this.#snapshot = assembleSnapshot(version, mesh.settings, resources, this.#built!, issues);
    if (!initial) this.#notify();
  }

  /**
   * What differs between the resource lists and the accepted set, for the ids changed since the lists
   * were made: resources by kind (a changed resource is removed and added), and whether any content
   * changed (a resource re-read at another line is a new object with the same content).
   */
  #diff(accepted: ReadonlyMap<string, Accepted>): { byKind: Map<string, ListDiff<ConfigResource>>; content: boolean } {
    const byKind = new Map<string, ListDiff<ConfigResource>>();
    const bucket = (kind: string) => {
      let d = byKind.get(kind);
      if (!d) byKind.set(kind, (d = { removed: [], added: [] }));
      return d;
    };
    let content = false;
    for (const id of this.#pending) {
      const a = accepted.get(id);
      const b = this.#listed.get(id);
      if (a?.resource === b?.resource) continue;
      if (!a || !b || a.content !== b.content) content = true;
      if (a) bucket(a.resource.kind).added.push(a.resource);
      if (b) bucket(b.resource.kind).removed.push(b.resource);
    }
    return { byKind, content };
  }

  /** The snapshot's lists with a change applied: lists of kinds the change did not touch keep their identity. */
  #updateLists(byKind: ReadonlyMap<string, ListDiff<ConfigResource>>): ReadonlyMap<string, readonly ConfigResource[]> {
    for (const [kind, d] of byKind) {
      // Patched in a copy of our own: V8 copies a frozen array element by element, 50 times slower.
      const own = updateSorted(this.#lists.get(kind)?.own ?? [], d.removed, d.added);
      if (own.length > 0) this.#lists.set(kind, { own, published: Object.freeze(own.slice()) });
      else this.#lists.delete(kind);
    }
    return new Map([...this.#lists.keys()].sort().map((k) => [k, this.#lists.get(k)!.published]));
  }

  /** Field lines for warnings found while building: re-read the resource's piece of text, once per piece. */
  #locate() {
    const locators = new Map<string, ReturnType<typeof chunkLocator>>();
    return (res: ConfigResource, path: readonly PathSegment[]): number => {
      const at = this.#acceptedOf.get(res)?.at;
      if (!at) return res.origin.line;
      let loc = locators.get(at.text);
      if (!loc) locators.set(at.text, (loc = chunkLocator(at.text)));
      return loc(at, path);
    };
  }

  #notify(): void {
    const errors: unknown[] = [];
    for (const l of [...this.#listeners]) {
      try {
        l(this.#snapshot);
      } catch (err) {
        if (this.#onError) this.#onError(err);
        else errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
