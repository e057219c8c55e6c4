import { expect, test } from 'vitest';
import { measureSigningRate } from './signing-rate.ts';

// The figure: at least 1,000 certificates a second on one core. Printed once per run;
// the assertion keeps a wide margin so a busy CI machine does not fail it.
test('signing rate (printed)', () => {
  const r = measureSigningRate(2000);
  console.log(
    `CA signing rate: ${r.signedPerSecond} certificates/s (${(r.signMsPerCertificate * 1000).toFixed(0)} µs each: CSR parse + policy + signature verify + build + ECDSA sign + PEM); ` +
      `client key pair + CSR: ${r.keyAndCsrPerSecond}/s (${(r.keyAndCsrMsPerCertificate * 1000).toFixed(0)} µs each)`,
  );
  expect(r.signedPerSecond).toBeGreaterThan(500);
});
