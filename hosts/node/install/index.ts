/** Kubernetes manifests for Weft (`weft install`): values and profiles, CRDs, components, rendering. */
export { renderInstall, renderObjects, toYaml, type K8sObject } from './render.ts';
export { resolveValues, describeKeys, defaults, imageRef, InstallValueError, KEYS, PROFILES, type InstallValues, type Profile } from './values.ts';
export { renderCrds, crdObject, openApiSchema } from './crds.ts';
export { CRDS, type CrdEntry, type CrdSet } from './crd-table.ts';
export { toStructural, type Schema } from './structural-schema.ts';
export { structuralProblems } from './structural-check.ts';
