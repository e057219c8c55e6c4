/**
 * `weft install` without the I/O: a profile and `--set` values in, the Kubernetes objects out, in the
 * order they can be applied (CRDs, then the namespace, then what lives in it), and their YAML.
 */
import { stringify } from 'yaml';
import { renderCrds } from './crds.ts';
import { controlObjects, namespaceObject } from './control-manifests.ts';
import { nodeObjects } from './node-manifests.ts';
import { waypointObjects } from './waypoint-manifests.ts';
import { resolveValues, type InstallValues } from './values.ts';

export type K8sObject = Record<string, unknown>;

export function renderObjects(v: InstallValues): K8sObject[] {
  const c = v.components;
  return [
    ...(c.crds ? renderCrds(v.crds) : []),
    ...(c.control || c.node ? [namespaceObject(v)] : []),
    ...(c.control ? controlObjects(v) : []),
    ...(c.node ? nodeObjects(v) : []),
    ...(c.waypoint ? waypointObjects(v) : []),
  ];
}

export function renderInstall(profile: string, sets: readonly string[] = []): { values: InstallValues; objects: K8sObject[] } {
  const values = resolveValues(profile, sets);
  return { values, objects: renderObjects(values) };
}

/** One multi-document YAML stream, `# <header>` first; no dates, so renders of the same input are equal. */
export function toYaml(objects: readonly K8sObject[], header: string): string {
  const docs = objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }));
  return `# ${header}\n${docs.length ? docs.map((d) => `---\n${d}`).join('') : '# (nothing to install: every component is off)\n'}`;
}
