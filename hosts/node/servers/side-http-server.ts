/**
 * The base of the small HTTP side servers (admin 15000, stats 15020, readiness 15021): node:http,
 * GET and HEAD only, a fixed table of paths, a 500 instead of a crash when a handler fails, and
 * start()/drain() like every listener of a host (conventions.md 10).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  status: number;
  type: string;
  body: string;
}

export type Route = (req: IncomingMessage, url: URL) => Reply | Promise<Reply>;

export interface SideServerOptions {
  host?: string;
  port?: number;
}

export const text = (status: number, body: string): Reply => ({ status, type: 'text/plain; charset=utf-8', body });
export const json = (value: unknown, status = 200): Reply => ({ status, type: 'application/json', body: `${JSON.stringify(value, null, 2)}\n` });

export class SideHttpServer {
  protected readonly routes = new Map<string, Route>();
  /** Paths that also take POST (admin actions such as /logging). */
  protected readonly postRoutes = new Set<string>();
  private server: Server | undefined;
  private bound: AddressInfo | undefined;

  constructor(
    readonly name: string,
    private readonly listen: SideServerOptions,
    private readonly defaultPort: number,
  ) {}

  get address(): AddressInfo | undefined {
    return this.bound;
  }

  async start(): Promise<AddressInfo> {
    if (this.server) throw new Error(`${this.name} server already started`);
    const server = createServer((req, res) => void this.dispatch(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port ?? this.defaultPort, this.listen.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {}); // accept errors after listen: keep serving
    this.server = server;
    this.bound = server.address() as AddressInfo;
    return this.bound;
  }

  /** Stops listening, lets requests in progress finish for up to `graceMs`. */
  async drain(graceMs = 1000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', 'http://side');
      const route = this.routes.get(url.pathname);
      const method = req.method ?? 'GET';
      if (!route) reply = text(404, `no such endpoint: ${url.pathname}\nendpoints: ${[...this.routes.keys()].join(' ')}\n`);
      else if (method !== 'GET' && method !== 'HEAD' && !(method === 'POST' && this.postRoutes.has(url.pathname))) reply = text(405, 'method not allowed\n');
      else reply = await route(req, url);
    } catch (err) {
      reply = text(500, `internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(reply.status, { 'content-type': reply.type, 'content-length': Buffer.byteLength(reply.body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  }
}
