/**
 * What `weft plugin new` writes, per kind: a small plugin that works as generated, its tests in the
 * `weft plugin test` format, and the editor setup (tsconfig paths to the SDK and the WIT typings).
 */
import type { PluginKindName } from './manifest.ts';

export interface ScaffoldFiles {
  [file: string]: string;
}

const PLUGIN_TS: Record<PluginKindName, string> = {
  'http-filter': `/**
 * An HTTP filter: adds a greeting header to every request and answers 403 to requests that carry
 * the header named in config.blockHeader (default x-block). Runs in a waypoint or gateway.
 *
 * Top-level code runs once at BUILD time (the component is a snapshot): read config and call the
 * host only inside handlers.
 */
import { action, config, counter, defineFilter } from '@weft/plugin-sdk';
import { requestHeader, setRequestHeader } from '@weft/plugin-sdk/http';

interface Config {
  greeting?: string;
  blockHeader?: string;
}

const blocked = counter('blocked');

export const filter = defineFilter({
  // the headers read: their values come with each call (a header not named is a host call)
  headers: () => ({ request: [config<Config>().blockHeader ?? 'x-block'] }),
  onRequestHeaders() {
    const c = config<Config>();
    if (requestHeader(c.blockHeader ?? 'x-block') !== undefined) {
      blocked.add(1);
      return action.respond(403, 'blocked by plugin\\n', { 'content-type': 'text/plain' });
    }
    setRequestHeader('x-greeting', c.greeting ?? 'hello');
    return action.continue();
  },
});
`,
  'l4-policy': `/**
 * An L4 policy: runs in the node proxy once per inbound connection, after the mesh's own
 * authorization allowed it. This one denies plaintext clients (no SPIFFE identity) and, when
 * config.deniedNamespaces is set, clients from those namespaces.
 *
 * Top-level code runs once at BUILD time (the component is a snapshot): read config inside check.
 */
import { config, decision, defineL4Policy } from '@weft/plugin-sdk';

interface Config {
  deniedNamespaces?: string[];
}

export const connectionPolicy = defineL4Policy((conn) => {
  if (conn.sourcePrincipal === '') return decision.deny('plaintext clients are not allowed');
  const ns = /\\/ns\\/([^/]+)\\//.exec(conn.sourcePrincipal)?.[1];
  if (ns && config<Config>().deniedNamespaces?.includes(ns)) return decision.deny(\`namespace \${ns} is denied\`);
  return decision.allow();
});
`,
  'endpoint-picker': `/**
 * An endpoint picker: ranks the candidate endpoints of a request, best first. This one prefers the
 * least loaded endpoint by the metric named in config.metric (default active-requests); candidates
 * without the metric come last. Returning [] leaves the choice to the proxy's balancer.
 *
 * Top-level code runs once at BUILD time (the component is a snapshot): read config inside pick.
 */
import { config, definePicker, metric } from '@weft/plugin-sdk';

interface Config {
  metric?: string;
}

export const picker = definePicker((candidates) => {
  const name = config<Config>().metric ?? 'active-requests';
  const order: number[] = [];
  for (let i = 0; i < candidates.length; i++) order.push(i);
  const load = (i: number) => metric(candidates[i]!, name) ?? Infinity;
  return order.sort((a, b) => load(a) - load(b) || a - b);
});
`,
};

const TESTS_TS: Record<PluginKindName, string> = {
  'http-filter': `import type { PluginTests } from '@weft/plugin-sdk/testing';

export default {
  config: { greeting: 'hi' },
  cases: [
    {
      name: 'adds the greeting header',
      request: { path: '/' },
      expect: { action: 'continue', requestHeaders: { 'x-greeting': 'hi' } },
    },
    {
      name: 'blocks requests carrying x-block',
      request: { headers: { 'x-block': '1' } },
      expect: { action: 'respond', status: 403, body: 'blocked by plugin\\n' },
    },
    {
      name: 'config per case',
      config: { blockHeader: 'x-stop' },
      request: { headers: { 'x-block': '1' } },
      expect: { action: 'continue', requestHeaders: { 'x-greeting': 'hello' } },
    },
  ],
} satisfies PluginTests;
`,
  'l4-policy': `import type { PluginTests } from '@weft/plugin-sdk/testing';

export default {
  config: { deniedNamespaces: ['untrusted'] },
  cases: [
    {
      name: 'allows a mesh client',
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/web', destinationPort: 8080 },
      expect: { decision: 'allow' },
    },
    {
      name: 'denies plaintext',
      connection: { sourcePrincipal: '' },
      expect: { decision: 'deny' },
    },
    {
      name: 'denies a denied namespace',
      connection: { sourcePrincipal: 'spiffe://cluster.local/ns/untrusted/sa/bot' },
      expect: { decision: 'deny' },
    },
  ],
} satisfies PluginTests;
`,
  'endpoint-picker': `import type { PluginTests } from '@weft/plugin-sdk/testing';

export default {
  cases: [
    {
      name: 'least active requests first',
      candidates: [
        { address: '10.0.0.1:8000', metrics: { 'active-requests': 7 } },
        { address: '10.0.0.2:8000', metrics: { 'active-requests': 2 } },
        { address: '10.0.0.3:8000', metrics: { 'active-requests': 4 } },
      ],
      expect: { order: [1, 2, 0] },
    },
    {
      name: 'the metric comes from config',
      config: { metric: 'queue-depth' },
      candidates: [
        { address: '10.0.0.1:8000', metrics: { 'queue-depth': 1 } },
        { address: '10.0.0.2:8000', metrics: { 'queue-depth': 9 } },
      ],
      expect: { order: [0, 1] },
    },
  ],
} satisfies PluginTests;
`,
};

function tsconfig(sdkDir: string): string {
  return `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2022'],
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        paths: { '@weft/plugin-sdk': [`${sdkDir}/index.ts`], '@weft/plugin-sdk/*': [`${sdkDir}/*`] },
      },
      include: ['*.ts', `${sdkDir}/wit.d.ts`],
    },
    null,
    2,
  )}\n`;
}

function readme(name: string, kind: PluginKindName): string {
  return `# ${name}

A Weft ${kind} plugin: TypeScript compiled to a sandboxed WebAssembly component.

- \`plugin.ts\`: the plugin. It imports helpers from \`@weft/plugin-sdk\` (config, actions, log,
  counters, kv) and \`@weft/plugin-sdk/http\` (the request in flight), compiled into the plugin.
  Top-level code runs at build time: call the host (config, headers, kv) only inside handlers.
- \`plugin.test.ts\`: cases run against the built component by \`weft plugin test\`.
- \`weft-plugin.json\`: name and kind.

\`\`\`sh
weft plugin build .          # -> dist/${name}.wasm, prints its sha256 and a WasmPlugin snippet
weft plugin test .           # builds (cached), then runs plugin.test.ts's cases
\`\`\`
`;
}

export function scaffoldFiles(name: string, kind: PluginKindName, sdkDir: string): ScaffoldFiles {
  return {
    'weft-plugin.json': `${JSON.stringify({ name, kind }, null, 2)}\n`,
    'plugin.ts': PLUGIN_TS[kind],
    'plugin.test.ts': TESTS_TS[kind],
    'tsconfig.json': tsconfig(sdkDir),
    'README.md': readme(name, kind),
    '.gitignore': 'dist/\n',
  };
}
