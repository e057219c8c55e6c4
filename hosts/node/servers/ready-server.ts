/**
 * Readiness on 15021 `/healthz/ready`, where Kubernetes probes ztunnel: 200 once the node proxy
 * holds its config and certificates, 503 with the reason until then.
 */
import { SideHttpServer, text, type SideServerOptions } from './side-http-server.ts';

export interface ReadyServerOptions extends SideServerOptions {
  /** true = ready; false or a string (the reason) = not ready. */
  ready(): boolean | string;
}

export class ReadyServer extends SideHttpServer {
  constructor(options: ReadyServerOptions) {
    super('readiness', options, 15021);
    this.routes.set('/healthz/ready', () => {
      const r = options.ready();
      if (r === true) return text(200, 'ready\n');
      return text(503, `not ready${typeof r === 'string' && r ? `: ${r}` : ''}\n`);
    });
  }
}
