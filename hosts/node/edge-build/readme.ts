/** The README.md a built edge deploy carries: what is in the directory and how to run it. */
import type { PreparedManifestEntry } from '../../edge/prepared-dir.ts';
import type { EdgeConfigMode } from './config-mode.ts';
import type { EdgeTarget } from './targets.ts';

export function deployReadme(o: { target: EdgeTarget; mode: EdgeConfigMode; plugins: readonly PreparedManifestEntry[]; port: number; gateway?: string; files: string[] }): string {
  const lines: string[] = ['# Weft edge deploy', '', `Built by \`weft edge build --target ${o.target}\` (the edge host: hosts/edge/README.md in Weft).`, ''];
  if (o.mode.kind === 'snapshot') {
    lines.push(`Config: the bundled snapshot \`snapshot.json\` (gateway ${o.mode.snapshot.gateway.namespace}/${o.mode.snapshot.gateway.name}, made ${o.mode.snapshot.createdAt}); a config change is a new build and a redeploy.`);
  } else {
    lines.push(`Config: polled from \`weft control\` at ${o.mode.url} (REST-JSON xDS) every ${o.mode.pollMs ?? 5000} ms. The join token is in this directory's runtime config${o.target === 'workerd' ? ' (config.capnp; for Cloudflare set it as a secret: `wrangler secret put WEFT_TOKEN`)' : ''}: keep the directory private.`);
  }
  lines.push('');
  if (o.plugins.length) {
    lines.push(`Plugins (prepared: jco glue and metered core modules; a plugin change is a new build): ${o.plugins.map((p) => `\`${p.name}\` (${p.kind}, sha256 ${p.sha256.slice(0, 12)})`).join(', ')}, in \`plugins/\`${o.target === 'workerd' ? ', imported as Wasm modules (workerd compiles Wasm only when the worker loads)' : ''}.`);
  } else lines.push('Plugins: none named by the config.');
  lines.push('', `Files: ${o.files.map((f) => `\`${f}\``).join(', ')}.`, '', '## Run it', '');
  if (o.target === 'workerd') {
    lines.push(
      'Self-hosted workerd (listens on `*:' + o.port + '`; `--socket-addr http=HOST:PORT` for another address):',
      '',
      '```sh',
      'workerd serve config.capnp',
      '```',
      '',
      'Cloudflare: `wrangler deploy` from this directory (wrangler.toml: `main = "worker.js"`, `.wasm` as compiled Wasm modules).',
      'workerd\'s `fetch` takes the Host from the URL: an upstream reached by address sees the client\'s authority in `x-forwarded-host`.',
    );
  } else if (o.target === 'deno') {
    lines.push(
      'Deno (permissions: network, environment, and reading this directory only):',
      '',
      '```sh',
      `deno serve --port ${o.port} --allow-net --allow-env --allow-read=/path/to/this/dir /path/to/this/dir/main.mjs`,
      '# or, from this directory:',
      'deno task start',
      '```',
    );
  } else {
    lines.push('Node 20 or later:', '', '```sh', `PORT=${o.port} node start.mjs   # HOST=0.0.0.0 by default`, '```');
  }
  lines.push('', '`/healthz/ready` answers 200 once the config serves.');
  if (o.target !== 'workerd') lines.push('The environment overrides what is baked in: `WEFT_SNAPSHOT`, `WEFT_CONTROL_URL` + `WEFT_TOKEN` (+ `WEFT_LABELS`, `WEFT_POLL_MS`), `WEFT_PLUGINS_DIR`.');
  return `${lines.join('\n')}\n`;
}
