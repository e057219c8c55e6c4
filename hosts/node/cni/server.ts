/**
 * The node proxy's side of `weft cni` (protocol.ts): an HTTP server on a Unix socket that hands each
 * ADD/DEL to the node proxy's callbacks and answers with their outcome, so the CNI plugin (or test)
 * fails when enrolment fails. A stale socket file from a dead node proxy is replaced; a live one is
 * an error (two node proxies must not share a socket).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CNI_PATHS, parseCniRequest, type CniOp, type CniResponse } from './protocol.ts';

/** What a callback may return: nothing, or a line for the caller (e.g. "not ambient: recorded only"). */
export type CniResult = void | { message?: string };

export interface CniServerOptions {
  socketPath: string;
  onAdd: (pod: string, netnsPath: string) => Promise<CniResult> | CniResult;
  onDel: (pod: string, netnsPath?: string) => Promise<CniResult> | CniResult;
}

const MAX_BODY = 64 * 1024;

export class CniServer {
  readonly socketPath: string;
  #server: Server | undefined;

  constructor(private readonly opts: CniServerOptions) {
    this.socketPath = opts.socketPath;
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.socketPath), { recursive: true, mode: 0o755 });
    if (await socketAnswers(this.socketPath)) throw new Error(`another process is serving ${this.socketPath} (another node proxy? give each its own --socket)`);
    await unlink(this.socketPath).catch(() => {}); // a stale file from a node proxy that died
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.socketPath, 0o600); // only root (the CNI plugin) may enrol pods
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await unlink(this.socketPath).catch(() => {});
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: CniResponse) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      if (req.method === 'GET' && req.url === CNI_PATHS.health) return reply(200, { ok: true });
      const op: CniOp | undefined = req.url === CNI_PATHS.add ? 'add' : req.url === CNI_PATHS.del ? 'del' : undefined;
      if (!op || req.method !== 'POST') return reply(404, { ok: false, error: `no such endpoint: ${req.method} ${req.url}` });
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        return reply(400, { ok: false, error: `bad request body: ${err instanceof Error ? err.message : String(err)}` });
      }
      const parsed = parseCniRequest(op, body);
      if (typeof parsed === 'string') return reply(400, { ok: false, error: parsed });
      const result = op === 'add' ? await this.opts.onAdd(parsed.pod, parsed.netns!) : await this.opts.onDel(parsed.pod, parsed.netns);
      reply(200, result?.message ? { ok: true, message: result.message } : { ok: true });
    } catch (err) {
      reply(500, { ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) return reject(new Error(`larger than ${MAX_BODY} bytes`));
      chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** True when something accepts connections and answers HTTP on the socket (bounded to 1 s). */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: CNI_PATHS.health, method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
