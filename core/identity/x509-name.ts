/**
 * X.501 Names (RFC 5280 4.1.2.4) as lists of attributes: encoded one attribute per RDN, as openssl
 * and Go write them, and decoded for display and checks. The CA copies its own subject's exact
 * bytes into each leaf's issuer, so a chain never depends on re-encoding a name.
 */
import { OID } from './oid.ts';
import { TAG, oid, printableString, sequence, setOf, utf8String, ia5String } from './der-writer.ts';
import { children, decodeOid, decodeString, expect, parseDer, type DerNode } from './der-reader.ts';

export interface NameAttribute {
  /** Short name (`CN`, `O`, `OU`, `L`, `ST`, `C`, `DC`, `emailAddress`, `serialNumber`) or a dotted OID. */
  type: string;
  value: string;
}

const SHORT_TO_OID: Record<string, string> = {
  CN: OID.commonName,
  C: OID.country,
  L: OID.locality,
  ST: OID.stateOrProvince,
  O: OID.organization,
  OU: OID.organizationalUnit,
  DC: OID.domainComponent,
  emailAddress: OID.emailAddress,
  serialNumber: OID.serialNumber,
};
const OID_TO_SHORT = Object.fromEntries(Object.entries(SHORT_TO_OID).map(([k, v]) => [v, k]));

/** The empty Name (`SEQUENCE {}`): the subject of a SPIFFE leaf. */
export const EMPTY_NAME: Uint8Array = Uint8Array.of(TAG.SEQUENCE, 0);

export function encodeName(attrs: readonly NameAttribute[]): Uint8Array {
  return sequence(
    ...attrs.map((a) => {
      const type = SHORT_TO_OID[a.type] ?? a.type;
      // RFC 5280: countryName and serialNumber are PrintableString, emailAddress IA5String, the rest UTF8String
      const value =
        type === OID.country || type === OID.serialNumber
          ? printableString(a.value)
          : type === OID.emailAddress || type === OID.domainComponent
            ? ia5String(a.value)
            : utf8String(a.value);
      return setOf(sequence(oid(type), value));
    }),
  );
}

export function decodeName(node: DerNode | Uint8Array): NameAttribute[] {
  const name = expect(node instanceof Uint8Array ? parseDer(node) : node, TAG.SEQUENCE, 'Name');
  const out: NameAttribute[] = [];
  for (const rdn of children(name)) {
    expect(rdn, TAG.SET, 'RelativeDistinguishedName');
    for (const atv of children(rdn)) {
      const [t, v] = children(expect(atv, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      const type = decodeOid(t!);
      out.push({ type: OID_TO_SHORT[type] ?? type, value: decodeString(expect(v, v?.tag ?? -1, 'attribute value')) });
    }
  }
  return out;
}

/** `O=cluster.local, CN=Weft Root CA`, in encoded order (as `openssl x509 -nameopt RFC2253` reversed). */
export function formatName(attrs: readonly NameAttribute[]): string {
  return attrs.map((a) => `${a.type}=${a.value}`).join(', ');
}
