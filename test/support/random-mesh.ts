/**
 * A small random mesh as YAML files, and random edits of it, to check that what the Store and the xDS
 * translator build incrementally equals what they build from scratch: pods and WorkloadEntries moving
 * between services, ports and selectors changing, EndpointSlices, ServiceEntries sharing a host,
 * namespaces, a waypoint and AuthorizationPolicies coming and going, and now and then a file that
 * does not validate.
 */

import { seededRandom } from '../../core/lb/seeded-random.ts';

/** A deterministic PRNG (mulberry32: core/lb's), so a failing sequence can be replayed from its seed. */
export const rng = seededRandom;

const NAMESPACES = ['shop', 'legacy'];

export class RandomMesh {
  readonly files = new Map<string, string>();
  readonly #r: () => number;
  #next = 0;

  constructor(seed: number) {
    this.#r = rng(seed);
    this.files.set('ns-shop.yaml', this.#namespace('shop', true, false));
    this.files.set('ns-legacy.yaml', this.#namespace('legacy', false, false));
    for (let i = 0; i < 6; i++) this.files.set(`svc-${i}.yaml`, this.#service(i));
    for (let i = 0; i < 16; i++) this.files.set(`pod-${i}.yaml`, this.#pod(i));
    for (let i = 0; i < 8; i++) this.files.set(`we-${i}.yaml`, this.#workloadEntry(i));
    this.files.set('db.yaml', this.#sliceService());
    this.files.set('slice.yaml', this.#slice());
    this.files.set('se-1.yaml', this.#serviceEntry(1));
    this.files.set('se-2.yaml', this.#serviceEntry(2));
  }

  get list(): { path: string; text: string }[] {
    return [...this.files].map(([path, text]) => ({ path, text }));
  }

  /** One random edit (sometimes two or three at once, as one directory read). */
  edit(): string {
    const n = this.#pick([1, 1, 1, 2, 3]);
    const done: string[] = [];
    for (let i = 0; i < n; i++) done.push(this.#editOne());
    return done.join(', ');
  }

  #editOne(): string {
    const r = this.#r;
    const op = Math.floor(r() * 16);
    switch (op) {
      case 0:
      case 1:
      case 2: {
        const i = Math.floor(r() * 20);
        this.files.set(`pod-${i}.yaml`, this.#pod(i));
        return `pod ${i}`;
      }
      case 3: {
        const i = Math.floor(r() * 20);
        this.files.delete(`pod-${i}.yaml`);
        return `delete pod ${i}`;
      }
      case 4:
      case 5: {
        const i = Math.floor(r() * 10);
        this.files.set(`we-${i}.yaml`, this.#workloadEntry(i));
        return `we ${i}`;
      }
      case 6: {
        const i = Math.floor(r() * 7);
        if (r() < 0.2) this.files.delete(`svc-${i}.yaml`);
        else this.files.set(`svc-${i}.yaml`, this.#service(i));
        return `service ${i}`;
      }
      case 7: {
        const ns = this.#pick(NAMESPACES);
        this.files.set(`ns-${ns}.yaml`, this.#namespace(ns, r() < 0.6, r() < 0.4));
        return `namespace ${ns}`;
      }
      case 8: {
        if (this.files.has('waypoint.yaml') && r() < 0.5) this.files.delete('waypoint.yaml');
        else this.files.set('waypoint.yaml', this.#waypoint());
        return 'waypoint';
      }
      case 9: {
        this.files.set('slice.yaml', this.#slice());
        if (r() < 0.3) this.files.set('db.yaml', this.#sliceService());
        return 'slice';
      }
      case 10: {
        const i = this.#pick([1, 2]);
        this.files.set(`se-${i}.yaml`, this.#serviceEntry(i));
        return `service entry ${i}`;
      }
      case 11: {
        // A file that does not validate (bad address) or does not parse: the last good version stays.
        const i = Math.floor(r() * 16);
        this.files.set(`pod-${i}.yaml`, r() < 0.5 ? this.#pod(i).replace(/podIP: \S+/, 'podIP: not-an-ip') : 'kind: [oops\n');
        return `bad pod ${i}`;
      }
      case 12: {
        // Several workloads in one file, then lines shift as one of them changes size.
        const docs = [0, 1, 2].map(() => this.#workloadEntry(10 + Math.floor(r() * 4), r() < 0.5));
        this.files.set('we-group.yaml', docs.join('---\n'));
        return 'we group';
      }
      case 13: {
        const i = this.#pick([1, 2]);
        if (r() < 0.25) this.files.delete(`policy-${i}.yaml`);
        else this.files.set(`policy-${i}.yaml`, this.#policy(i));
        return `policy ${i}`;
      }
      case 14: {
        // A second definition of a pod (a duplicate while both name one pod), sorted before or after the first.
        const path = r() < 0.5 ? 'a-dup.yaml' : 'z-dup.yaml';
        if (r() < 0.3) this.files.delete(path);
        else this.files.set(path, this.#pod(Math.floor(r() * 4)));
        return `duplicate ${path}`;
      }
      default: {
        const i = Math.floor(r() * 16);
        this.files.set(`pod-${i}.yaml`, this.#pod(i));
        return `pod ${i}`;
      }
    }
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#r() * xs.length)]!;
  }

  #ip(): string {
    return `10.${Math.floor(this.#r() * 3)}.${Math.floor(this.#r() * 4)}.${1 + Math.floor(this.#r() * 20)}`;
  }

  #namespace(name: string, ambient: boolean, waypoint: boolean): string {
    const labels = [ambient ? 'istio.io/dataplane-mode: ambient' : '', waypoint ? 'istio.io/use-waypoint: waypoint' : ''].filter(Boolean);
    return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n${labels.length ? `  labels: {${labels.join(', ')}}\n` : ''}`;
  }

  #waypoint(): string {
    const forAll = this.#r() < 0.5 ? '\n  labels: {istio.io/waypoint-for: all}' : '';
    return `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: waypoint\n  namespace: shop${forAll}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - {name: mesh, port: 15008, protocol: HBONE}\n`;
  }

  #service(i: number): string {
    const r = this.#r;
    const ns = NAMESPACES[i % 2]!;
    const target = this.#pick(['8080', 'web', 'http']);
    const extra = r() < 0.3 ? `\n  - {name: grpc, port: 9090, targetPort: ${this.#pick(['9090', 'web'])}}` : '';
    const name = i === 6 ? 'waypoint' : `svc-${i}`;
    return `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${i === 6 ? 'shop' : ns}}\nspec:\n  clusterIP: 10.96.0.${10 + i}\n  selector: {app: a${this.#pick([0, 1, 2, 3, i % 4])}}\n  ports:\n  - {name: http, port: 80, targetPort: ${target}}${extra}\n`;
  }

  #pod(i: number): string {
    const r = this.#r;
    const ns = r() < 0.8 ? NAMESPACES[i % 2]! : this.#pick(NAMESPACES);
    const labels = [`app: a${Math.floor(r() * 5)}`, ...(r() < 0.3 ? ['topology.kubernetes.io/region: eu'] : []), ...(r() < 0.15 ? ['istio.io/use-waypoint: waypoint'] : [])];
    const ip = r() < 0.1 ? '' : `\nstatus:\n  podIP: ${this.#ip()}\n  conditions: [{type: Ready, status: "${r() < 0.8 ? 'True' : 'False'}"}]`;
    const node = r() < 0.9 ? `\n  nodeName: node-${Math.floor(r() * 3)}` : '';
    return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p-${i}\n  namespace: ${ns}\n  labels: {${labels.join(', ')}}\nspec:${node}\n  containers:\n  - name: app\n    ports: [{name: web, containerPort: ${this.#pick([8080, 8081])}}]${ip}\n`;
  }

  #workloadEntry(i: number, long = false): string {
    const r = this.#r;
    const ns = NAMESPACES[i % 2]!;
    const ports = r() < 0.5 ? `\n  ports: {http: ${this.#pick([7000, 7001])}}` : '';
    const pad = long ? '\n  # a comment that makes this document longer\n  # and another one' : '';
    return `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: we-${i}, namespace: ${ns}}\nspec:${pad}\n  address: ${this.#ip()}\n  serviceAccount: sa-${i % 3}\n  labels: {app: a${Math.floor(r() * 5)}, weft.io/node: node-${i % 3}}${ports}\n`;
  }

  #policy(i: number): string {
    const r = this.#r;
    const ns = r() < 0.3 ? 'istio-system' : this.#pick(NAMESPACES);
    const selector = r() < 0.8 ? `\n  selector:\n    matchLabels: {app: a${Math.floor(r() * 5)}}` : '';
    return `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p-${i}, namespace: ${ns}}\nspec:${selector}\n  action: ${this.#pick(['ALLOW', 'DENY'])}\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/shop/sa/sa-${Math.floor(r() * 3)}]}\n`;
  }

  #sliceService(): string {
    return `apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: legacy}\nspec:\n  ports: [{name: pg, port: 5432}]\n`;
  }

  #slice(): string {
    const r = this.#r;
    const eps = [0, 1, 2]
      .filter(() => r() < 0.8)
      .map((k) => `- addresses: [10.9.0.${k + 1}]\n  conditions: {ready: ${r() < 0.8}}\n  targetRef: {kind: Pod, name: p-${this.#pick([1, 3, 5, 7])}, namespace: legacy}`);
    return `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: db-${this.#next++ % 2}\n  namespace: legacy\n  labels: {kubernetes.io/service-name: db}\naddressType: IPv4\nports: [{name: pg, port: ${this.#pick([15432, 15433])}}]\nendpoints:\n${eps.join('\n') || '[]'}\n`;
  }

  #serviceEntry(i: number): string {
    const r = this.#r;
    const hosts = i === 1 ? ['x.example.com'] : this.#pick([['x.example.com', 'y.example.com'], ['y.example.com'], ['z.example.com', 'x.example.com']]);
    const body = i === 1 && r() < 0.7 ? `  workloadSelector:\n    labels: {app: a${Math.floor(r() * 5)}}` : `  endpoints:\n  - address: 203.0.113.${i}`;
    return `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se-${i}, namespace: shop}\nspec:\n  hosts: [${hosts.join(', ')}]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports: [{number: 443, name: http, protocol: HTTP, targetPort: ${this.#pick([8443, 8444])}}]\n${body}\n`;
  }
}
