/**
 * The node proxy's admin port, 15000 (ztunnel's and Envoy's): `/config_dump` is the proxy's compiled
 * model as JSON (what `weft proxy-config` reads), `/logging` shows or sets the log level, `/` lists
 * the endpoints. It binds to loopback by default. Private keys never appear: the dump is built
 * without them, and any property named like one is redacted here as a second guard.
 */
import { json, SideHttpServer, text, type SideServerOptions } from './side-http-server.ts';

export interface AdminServerOptions extends SideServerOptions {
  configDump(): unknown | Promise<unknown>;
  /** Log level control; `/logging` is served only when given. */
  logging?: { level(): string; setLevel(level: string): string | undefined };
  /** More read-only JSON endpoints (path -> producer), e.g. `/certs`. */
  extra?: Record<string, () => unknown | Promise<unknown>>;
}

const SECRET_KEY = /^(private_?key|privateKeyPem|key_?pem|keyPem)$/i;

/** JSON replacer: private keys become "[redacted]" wherever they are. */
function redact(key: string, value: unknown): unknown {
  return SECRET_KEY.test(key) ? '[redacted]' : value;
}

export class AdminServer extends SideHttpServer {
  constructor(options: AdminServerOptions) {
    super('admin', options, 15000);
    this.routes.set('/config_dump', async () => {
      const dump = await options.configDump();
      return { status: 200, type: 'application/json', body: `${JSON.stringify(dump, redact, 2)}\n` };
    });
    const logging = options.logging;
    if (logging) {
      this.postRoutes.add('/logging');
      this.routes.set('/logging', (req, url) => {
        const wanted = url.searchParams.get('level');
        if (req.method === 'POST' && wanted) {
          const problem = logging.setLevel(wanted);
          if (problem) return text(400, `${problem}\n`);
        } else if (req.method === 'POST') {
          return text(400, 'POST /logging?level=LEVEL\n');
        }
        return json({ level: logging.level() });
      });
    }
    for (const [path, produce] of Object.entries(options.extra ?? {})) {
      this.routes.set(path, async () => ({ status: 200, type: 'application/json', body: `${JSON.stringify(await produce(), redact, 2)}\n` }));
    }
    this.routes.set('/', () => text(200, `weft node proxy admin\n${[...this.routes.keys()].filter((p) => p !== '/').join('\n')}\n`));
  }
}
