import type { PluginTests } from '../../sdk/testing.ts';

export default {
  cases: [
    {
      name: 'set, add and remove request headers with constant values',
      config: { request: { set: { 'x-env': 'prod' }, add: { 'x-tag': 'weft' }, remove: ['x-debug'] } },
      request: { headers: { 'x-debug': '1' } },
      expect: { action: 'continue', requestHeaders: { 'x-env': 'prod', 'x-tag': 'weft', 'x-debug': null } },
    },
    {
      name: 'templates read the method, path, authority and another header',
      config: { request: { set: { 'x-route-key': '${method} ${authority}${path}', 'x-user-copy': 'user=${header.X-User}' } } },
      request: { method: 'POST', authority: 'api.example.com', path: '/v1/items?x=1', headers: { 'x-user': 'ada' } },
      expect: { requestHeaders: { 'x-route-key': 'POST api.example.com/v1/items?x=1', 'x-user-copy': 'user=ada' } },
    },
    {
      name: 'templates read the peer identity and address',
      config: { request: { set: { 'x-forwarded-client-principal': '${source.principal}', 'x-client-address': '${source.address}' } } },
      request: { sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/web', sourceAddress: '10.1.2.3:4567' },
      expect: { requestHeaders: { 'x-forwarded-client-principal': 'spiffe://cluster.local/ns/demo/sa/web', 'x-client-address': '10.1.2.3:4567' } },
    },
    {
      name: 'a header is renamed: the template sees it before remove takes it away',
      config: { request: { set: { 'x-new': '${header.x-old}' }, remove: ['x-old'] } },
      request: { headers: { 'x-old': 'v1' } },
      expect: { requestHeaders: { 'x-new': 'v1', 'x-old': null } },
    },
    {
      name: "an absent header renders as empty text; constant response rules replace, extend and drop the upstream's",
      config: {
        request: { set: { 'x-greeting': 'hello ${header.x-name}!' } },
        response: { set: { 'x-frame-options': 'DENY' }, add: { vary: 'origin' }, remove: ['server'] },
      },
      request: {},
      response: { status: 200, headers: { server: 'upstream/1.0', 'x-keep': '1', vary: 'accept', 'x-frame-options': 'SAMEORIGIN' } },
      expect: {
        requestHeaders: { 'x-greeting': 'hello !' },
        responseHeaders: { server: null, 'x-keep': '1', vary: 'accept, origin', 'x-frame-options': 'DENY' },
      },
    },
    {
      name: 'response rules: status and a response header in a template, server header removed',
      config: { response: { set: { 'x-result': '${response.status} ${response.header.content-type}' }, remove: ['server'] } },
      request: {},
      response: { status: 404, headers: { 'content-type': 'text/plain', server: 'upstream/1.0' } },
      expect: { action: 'continue', responseHeaders: { 'x-result': '404 text/plain', server: null } },
    },
    {
      name: 'response rules may echo a request header (x-request-id) to the client',
      config: { response: { set: { 'x-request-id': '${header.x-request-id}' } } },
      request: { headers: { 'x-request-id': 'abc-123' } },
      response: { status: 200 },
      expect: { responseHeaders: { 'x-request-id': 'abc-123' } },
    },
    {
      name: 'a rule alone (text, then a variable); constants beside templates: remove, set, add',
      config: {
        request: { set: { 'x-a': 'id-${header.x-id}' } },
        response: { set: { 'x-const': 'c', 'x-copy': '${response.header.x-in}!' }, add: { 'x-in': 'added' }, remove: ['x-in'] },
      },
      request: { headers: { 'x-id': '7' } },
      response: { status: 200, headers: { 'x-in': 'original' } },
      expect: { requestHeaders: { 'x-a': 'id-7' }, responseHeaders: { 'x-const': 'c', 'x-copy': 'original!', 'x-in': 'added' } },
    },
  ],
} satisfies PluginTests;
