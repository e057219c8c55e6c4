/**
 * The embedded sample as `weft up` serves it: its fixed ports (ingress 8080 and 8081, echo backends
 * 18080 and 18081), optionally moved by `--port-offset` so that a second `weft up` (a test beside a
 * running demo) does not collide. Only these four numbers move; HBONE's 15008 cannot (peers dial it).
 *
 * On Linux the hello backend moves to 127.0.0.2 (all of 127/8 is loopback there): the sample puts
 * both WorkloadEntries on 127.0.0.1 with different identities, and a node proxy picks its HBONE
 * certificate by the address dialed, so only one of two identities can answer on one address. Where
 * 127.0.0.2 is not local (macOS) both stay on 127.0.0.1 and only echo is reachable through the mesh.
 */
import { SAMPLE_FILES } from '../../../core/config/sample/index.ts';
import type { SourceFile } from '../../../core/ports/index.ts';

export const SAMPLE_PORTS = { istioIngress: 8080, gatewayApi: 8081, echo: 18080, hello: 18081 } as const;
export type SamplePorts = { -readonly [K in keyof typeof SAMPLE_PORTS]: number };
/** The address of each sample backend. */
export const SAMPLE_HOSTS = { echo: '127.0.0.1', hello: process.platform === 'linux' ? '127.0.0.2' : '127.0.0.1' } as const;

/** The sample's files with its ports moved by `offset`, and the ports they now use. */
export function sampleWithOffset(offset: number): { files: readonly SourceFile[]; ports: SamplePorts } {
  const ports = Object.fromEntries(Object.entries(SAMPLE_PORTS).map(([k, v]) => [k, v + offset])) as SamplePorts;
  const fixed = new Set<number>(Object.values(SAMPLE_PORTS));
  const files = SAMPLE_FILES.map((f) => {
    let text = offset ? f.text.replace(/\b(\d{4,5})\b/g, (m) => (fixed.has(Number(m)) ? String(Number(m) + offset) : m)) : f.text;
    if (f.path.endsWith('/hello.yaml')) text = text.replace('address: 127.0.0.1', `address: ${SAMPLE_HOSTS.hello}`);
    return { ...f, text };
  });
  return { files, ports };
}
