/**
 * The benchmark mesh: N endpoints as WorkloadEntries behind N/100 Services (100 endpoints a
 * service), one YAML file per service, so one service's change rewrites one file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SERVICE_SIZE = 100;
const NS = 'bench';

export function benchMesh(endpoints: number) {
  const services = Math.max(1, Math.ceil(endpoints / SERVICE_SIZE));
  const perService = Math.min(endpoints, SERVICE_SIZE);
  const addr = (s: number, e: number, gen = 0) => `10.${(s >> 8) & 255}.${s & 255}.${(e + gen) % 250 + 1}`;
  const file = (s: number, moved?: { e: number; gen: number }) => {
    const docs = [`apiVersion: v1
kind: Service
metadata: { name: svc-${s}, namespace: ${NS} }
spec:
  clusterIP: 10.96.${(s >> 8) & 255}.${s & 255}
  selector: { app: svc-${s} }
  ports: [{ name: http, port: 80, targetPort: 8080 }]`];
    for (let e = 0; e < perService; e++) {
      const gen = moved && moved.e === e ? moved.gen : 0;
      docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: svc-${s}-ep-${e}, namespace: ${NS}, labels: { app: svc-${s}, weft.io/node: node-${e % 10} } }
spec: { address: ${gen ? `10.200.${gen & 255}.${(e % 250) + 1}` : addr(s, e)}, serviceAccount: svc-${s} }`);
    }
    return docs.join('\n---\n') + '\n';
  };
  return {
    /** Addresses the clients should hold: one per workload and one per service. */
    resourceCount: services * perService + services,
    endpointName: (s: number, e: number) => `/WorkloadEntry/${NS}/svc-${s}-ep-${e}`,
    async write(dir: string) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, '00-namespace.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${NS}, labels: { istio.io/dataplane-mode: ambient } }\n`);
      for (let s = 0; s < services; s++) await writeFile(join(dir, `svc-${s}.yaml`), file(s));
    },
    async moveEndpoint(dir: string, s: number, e: number, gen: number) {
      await writeFile(join(dir, `svc-${s}.yaml`), file(s, { e, gen }));
    },
  };
}
