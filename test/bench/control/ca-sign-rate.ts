/**
 * Certificates signed per second on one core (issue 2's goal: at least 1,000). The CA side (CSR
 * parse, policy, signature verify, TBS build, ECDSA P-256 sign, PEM) is measured apart from the
 * client side (P-256 key pair + CSR), which the CA never pays. Call from the control bench's
 * main.ts; `node test/bench/run.mjs control` bundles it.
 */
import { measureSigningRate, type SigningRate } from '../../../hosts/node/ca/signing-rate.ts';

export function caSignRate(opts: { certificates?: number; rounds?: number } = {}): { ca: SigningRate; table: string } {
  const rounds = opts.rounds ?? 3;
  const runs = Array.from({ length: rounds }, () => measureSigningRate(opts.certificates ?? 5000));
  // the median round: one noisy neighbour should not move the figure
  const ca = runs.sort((a, b) => a.signedPerSecond - b.signedPerSecond)[Math.floor(rounds / 2)]!;
  const row = (what: string, perSecond: number, ms: number) => `| ${what.padEnd(46)} | ${String(perSecond).padStart(8)} | ${(ms * 1000).toFixed(0).padStart(6)} |`;
  const table = [
    `| ${`certificates (median of ${rounds} rounds of ${ca.certificates})`.padEnd(46)} | ${'per s'.padStart(8)} | ${'µs'.padStart(6)} |`,
    `|${'-'.repeat(48)}|${'-'.repeat(10)}|${'-'.repeat(8)}|`,
    row('CA: parse + verify CSR, build, sign, PEM', ca.signedPerSecond, ca.signMsPerCertificate),
    row('client: P-256 key pair + CSR', ca.keyAndCsrPerSecond, ca.keyAndCsrMsPerCertificate),
  ].join('\n');
  return { ca, table };
}
