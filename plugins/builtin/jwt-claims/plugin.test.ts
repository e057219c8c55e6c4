import type { PluginTests } from '../../sdk/testing.ts';

// Unsigned test tokens (the signature part is the text "signature"): this plugin never checks it.
// ADA's payload: { iss: 'https://auth.example.com', sub: 'ada', email: 'ada@example.com',
//   realm_access: { roles: ['admin', 'dev'] }, tier: 3, verified: true, name: 'Ada Lovelace ✓' }
const ADA =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20iLCJzdWIiOiJhZGEiLCJlbWFpbCI6ImFkYUBleGFtcGxlLmNvbSIsInJlYWxtX2FjY2VzcyI6eyJyb2xlcyI6WyJhZG1pbiIsImRldiJdfSwidGllciI6MywidmVyaWZpZWQiOnRydWUsIm5hbWUiOiJBZGEgTG92ZWxhY2Ug4pyTIn0.c2lnbmF0dXJl';
// { sub: 'bob' }
const BOB = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl';
// { sub: 'eve\r\nx-admin: true' }: a claim that tries to smuggle a header
const EVE = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJldmVcclxueC1hZG1pbjogdHJ1ZSJ9.c2lnbmF0dXJl';

export default {
  config: { claims: { sub: 'x-user', email: 'x-email', 'realm_access.roles': 'x-roles', tier: 'x-tier', verified: 'x-verified' } },
  cases: [
    {
      name: 'string, nested, number and boolean claims become headers (non-strings JSON-encoded)',
      request: { headers: { authorization: `Bearer ${ADA}` } },
      expect: {
        action: 'continue',
        requestHeaders: { 'x-user': 'ada', 'x-email': 'ada@example.com', 'x-roles': '["admin","dev"]', 'x-tier': '3', 'x-verified': 'true', authorization: `Bearer ${ADA}` },
      },
    },
    {
      name: 'absent claims remove the header: a client cannot inject x-email',
      request: { headers: { authorization: `bearer ${BOB}`, 'x-email': 'admin@example.com', 'x-roles': '["admin"]' } },
      expect: { requestHeaders: { 'x-user': 'bob', 'x-email': null, 'x-roles': null } },
    },
    {
      name: 'no token: every mapped header is removed',
      request: { headers: { 'x-user': 'root', 'x-tier': '99' } },
      expect: { action: 'continue', requestHeaders: { 'x-user': null, 'x-tier': null } },
    },
    {
      name: 'a malformed token is treated as no token',
      request: { headers: { authorization: 'Bearer not-a-jwt', 'x-user': 'root' } },
      expect: { action: 'continue', requestHeaders: { 'x-user': null } },
    },
    {
      name: 'removeAuthorization keeps the token from the upstream',
      config: { claims: { sub: 'x-user' }, removeAuthorization: true },
      request: { headers: { authorization: `Bearer ${BOB}` } },
      expect: { requestHeaders: { 'x-user': 'bob', authorization: null } },
    },
    {
      name: 'fromHeader reads a bare token from another header',
      config: { claims: { iss: 'x-issuer' }, fromHeader: 'X-Id-Token' },
      request: { headers: { 'x-id-token': ADA } },
      expect: { requestHeaders: { 'x-issuer': 'https://auth.example.com' } },
    },
    {
      name: 'claims with CR/LF or non-ASCII text arrive JSON-encoded, never as raw header text',
      config: { claims: { sub: 'x-user', name: 'x-name' } },
      request: { headers: { authorization: `Bearer ${EVE}` } },
      expect: { requestHeaders: { 'x-user': '"eve\\r\\nx-admin: true"', 'x-admin': null } },
    },
    {
      name: 'non-ASCII claim text is escaped',
      config: { claims: { name: 'x-name' } },
      request: { headers: { authorization: `Bearer ${ADA}` } },
      expect: { requestHeaders: { 'x-name': '"Ada Lovelace \\u2713"' } },
    },
  ],
} satisfies PluginTests;
