/**
 * Kubernetes TLS Secrets -> Envoy Secrets named `kubernetes://<namespace>/<name>` (core/route/README.md):
 * `tls_certificate {certificate_chain, private_key}` as PEM bytes. Served only over 15012, only to a
 * proxy whose listeners reference them (hosts/node/xds decides who gets what).
 */
import type { ConfigResource } from '../../config/snapshot.ts';
import type { SecretProto } from '../pb.ts';
import { secretName } from './names.ts';

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The Envoy Secret of a `kubernetes.io/tls` Secret (data or stringData), or undefined when it has no cert and key. */
export function tlsSecret(res: ConfigResource): SecretProto | undefined {
  const data = (res.extra?.data ?? {}) as Record<string, string>;
  const str = (res.extra?.stringData ?? {}) as Record<string, string>;
  const pick = (k: string) => (str[k] !== undefined ? new TextEncoder().encode(str[k]) : data[k] !== undefined ? base64Bytes(data[k]!) : undefined);
  const crt = pick('tls.crt');
  const key = pick('tls.key');
  if (!crt || !key) return undefined;
  return { name: secretName(res.metadata.namespace, res.metadata.name), tlsCertificate: { certificateChain: { inlineBytes: crt }, privateKey: { inlineBytes: key } } };
}
