/**
 * What `weft control` opens at start: its CA (plugged-in cacerts or the state directory's own
 * root) and its token key, creating both in the state directory on first start.
 */
import type { CertificateAuthority } from './authority.ts';
import { loadOrCreateCa } from './ca-material.ts';
import { defaultStateDir } from './state-dir.ts';
import { TokenAuthority } from './tokens.ts';

export async function openControlPlaneState(o: { stateDir?: string | undefined; cacertsDir?: string | undefined; trustDomain: string }): Promise<{ stateDir: string; ca: CertificateAuthority; tokens: TokenAuthority }> {
  const stateDir = o.stateDir ?? defaultStateDir();
  const tokens = await TokenAuthority.loadOrCreate(stateDir);
  const ca = await loadOrCreateCa({ stateDir, cacertsDir: o.cacertsDir, trustDomain: o.trustDomain });
  return { stateDir, ca, tokens };
}
