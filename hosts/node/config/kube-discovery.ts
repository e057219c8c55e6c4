/**
 * API discovery for the Kubernetes source: which of the kinds Weft reads the cluster serves, at
 * which version (the group's preferred version when Weft reads it, else the first Weft reads that
 * serves the kind) and under which plural. A group or kind the cluster does not have (its CRD is
 * not installed) comes back as absent, not as an error.
 * https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api
 */
import { KubeApiError, type KubeClient } from './kube-client.ts';
import type { ServedKind, WantedKind } from './kube-resources.ts';

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export interface Discovery {
  served: ServedKind[];
  absent: WantedKind[];
}

export async function discoverKinds(client: KubeClient, wanted: readonly WantedKind[]): Promise<Discovery> {
  const groups = new Map<string, Promise<string[] | undefined>>();
  const lists = new Map<string, Promise<ApiResource[] | undefined>>();
  const notFound = <T>(p: Promise<T>): Promise<T | undefined> =>
    p.catch((err) => {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    });
  // Versions the group serves, preferred first.
  const groupVersions = (group: string) => {
    let p = groups.get(group);
    if (!p) {
      p = group === ''
        ? Promise.resolve(['v1'])
        : notFound(client.get(`/apis/${group}`)).then((g) => {
          if (!g) return undefined;
          const all = ((g.versions ?? []) as { version: string }[]).map((v) => v.version);
          const preferred = g.preferredVersion?.version as string | undefined;
          return preferred ? [preferred, ...all.filter((v) => v !== preferred)] : all;
        });
      groups.set(group, p);
    }
    return p;
  };
  const resources = (group: string, version: string) => {
    const key = `${group}/${version}`;
    let p = lists.get(key);
    if (!p) {
      p = notFound(client.get(group ? `/apis/${group}/${version}` : `/api/${version}`)).then((l) => l?.resources as ApiResource[] | undefined);
      lists.set(key, p);
    }
    return p;
  };

  const out: Discovery = { served: [], absent: [] };
  await Promise.all(wanted.map(async (w) => {
    const served = (await groupVersions(w.group)) ?? [];
    // The cluster's preference among the versions Weft reads; Weft's order only breaks no tie here.
    const candidates = served.filter((v) => w.versions.includes(v));
    for (const version of candidates) {
      const r = (await resources(w.group, version))?.find((x) => x.kind === w.kind && !x.name.includes('/'));
      if (r) {
        out.served.push({ ...w, version, apiVersion: w.group ? `${w.group}/${version}` : version, plural: r.name, namespaced: r.namespaced });
        return;
      }
    }
    out.absent.push(w);
  }));
  const order = (k: WantedKind) => wanted.indexOf(wanted.find((x) => x.group === k.group && x.kind === k.kind)!);
  out.served.sort((a, b) => order(a) - order(b));
  out.absent.sort((a, b) => order(a) - order(b));
  return out;
}
