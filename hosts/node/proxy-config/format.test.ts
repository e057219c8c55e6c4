/**
 * `weft proxy-config` formatting on canned dumps: Envoy's secrets config dump shape (the jq +
 * base64 + openssl pipeline scripts use), istioctl's tables, and lenient reading.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readConfigDump } from './dump.ts';
import { forTarget, formatSection } from './run.ts';
import { leafFields, REDACTED_KEY } from './secrets.ts';
import { cannedDump, ID_A } from './test-support.ts';

describe('proxy-config secret', () => {
  const { dump, rootPem, serial, notAfter } = cannedDump();
  const read = readConfigDump(dump);

  it("prints Envoy's SecretsConfigDump: base64 PEM chains openssl reads, keys redacted, ROOTCA last", () => {
    const out = formatSection('secret', read, 'json');
    expect(out).not.toMatch(/PRIVATE KEY/);
    type Secret = { name: string; secret: Record<string, any> };
    const json = JSON.parse(out) as { dynamicActiveSecrets: Secret[]; dynamicWarmingSecrets: Secret[] };
    const first = json.dynamicActiveSecrets[0];
    expect(first.name).toBe(ID_A);
    expect(first.secret['@type']).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
    expect(first.secret.tlsCertificate.privateKey.inlineBytes).toBe('W3JlZGFjdGVkXQ==');
    expect(REDACTED_KEY).toBe('W3JlZGFjdGVkXQ==');
    const pem = Buffer.from(first.secret.tlsCertificate.certificateChain.inlineBytes, 'base64').toString();
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
    expect(text).toContain(`URI:${ID_A}`);
    const last = json.dynamicActiveSecrets.at(-1)!;
    expect(last.name).toBe('ROOTCA');
    expect(Buffer.from(last.secret.validationContext.trustedCa.inlineBytes, 'base64').toString().trim()).toBe(rootPem.trim());
    expect(json.dynamicWarmingSecrets.map((s) => s.name)).toEqual(['spiffe://cluster.local/ns/default/sa/b']);
  });

  it("prints istioctl's columns with the SPIFFE id, serial, expiry and issuer", () => {
    const lines = formatSection('secret', read, 'table', Date.now()).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE\s+ISSUER$/);
    const row = lines.find((l) => l.startsWith(ID_A))!;
    expect(row).toMatch(/Cert Chain\s+ACTIVE\s+true/);
    expect(row).toContain(serial);
    expect(row).toContain(new Date(notAfter).toISOString().slice(0, 19));
    expect(row).toMatch(/O=cluster\.local/);
    expect(lines.some((l) => /^spiffe:\/\/cluster\.local\/ns\/default\/sa\/b\s+Cert Chain\s+PENDING\s+false/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^ROOTCA\s+CA\s+ACTIVE\s+true/);
    expect(lines.every((l) => l === l.trimEnd())).toBe(true);
  });

  it('reads the leaf fields from the PEM when the dump lacks them, and agrees with it', () => {
    const c = read.certificates[0];
    const parsed = leafFields({ identity: c.identity, state: 'valid', chainPems: c.chainPems });
    expect(parsed.serial).toBe(c.serial);
    expect(parsed.notAfter).toBe(Math.floor(c.notAfter! / 1000) * 1000);
  });

  it("narrows a pod target to its own identity's certificate", () => {
    const narrowed = forTarget(read, { kind: 'workload', name: 'a', namespace: 'default' });
    expect(narrowed.certificates.map((c) => c.identity)).toEqual([ID_A]);
    expect(forTarget(read, { kind: 'node', name: 'node1' }).certificates.length).toBe(2);
  });
});

describe('proxy-config workload|service|policy', () => {
  const read = readConfigDump(cannedDump().dump);

  it("prints workloads as istioctl's ztunnel-config workload", () => {
    expect(formatSection('workload', read, 'table')).toBe(
      ['NAMESPACE POD NAME ADDRESS     NODE  WAYPOINT PROTOCOL', 'default   a        10.244.1.10 node1 None     HBONE', 'default   b        10.244.1.11 node1 None     HBONE', 'default   c        10.244.2.10 node2 None     TCP', ''].join('\n'),
    );
  });

  it('prints services with VIPs and healthy/total endpoints', () => {
    expect(formatSection('service', read, 'table')).toBe(['NAMESPACE SERVICE NAME SERVICE VIP WAYPOINT ENDPOINTS', 'default   b            10.96.0.20  None     1/1', ''].join('\n'));
  });

  it('prints policies with action and scope', () => {
    expect(formatSection('policy', read, 'table')).toBe(
      ['NAMESPACE    POLICY NAME ACTION          SCOPE', 'default      deny-c      Deny            Namespace', 'istio-system allow       Allow (dry-run) Global', ''].join('\n'),
    );
  });

  it('prints the sections as JSON with -o json', () => {
    expect(JSON.parse(formatSection('workload', read, 'json')).map((w: { name: string }) => w.name)).toEqual(['a', 'b', 'c']);
    expect(JSON.parse(formatSection('policy', read, 'json'))[0].key).toBe('default/deny-c');
  });

  it('refuses what is not a config dump, and tolerates missing sections', () => {
    expect(() => readConfigDump([])).toThrow(/JSON object/);
    expect(() => readConfigDump({ hello: 1 })).toThrow(/weft node proxy/);
    expect(readConfigDump({ workloads: [] }).certificates).toEqual([]);
  });
});
