/**
 * The sample's backends (`weft up` without `--config`): one small HTTP server per demo service on
 * its WorkloadEntry's address, answering with the request it saw as JSON, so a request through the
 * ingress shows where it arrived and what the mesh added on the way.
 */
import { createServer, type Server } from 'node:http';

export interface EchoBackend {
  service: string;
  host: string;
  port: number;
}

export async function startEchoBackends(list: readonly EchoBackend[]): Promise<Server[]> {
  const servers: Server[] = [];
  try {
    for (const b of list) {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          const body = JSON.stringify({ service: b.service, backend: `${b.host}:${b.port}`, method: req.method, host: req.headers.host ?? '', path: req.url, headers: req.headers }, null, 2);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) + 1 });
          res.end(`${body}\n`);
        });
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: Error) => reject(new Error(`echo backend ${b.service} cannot listen on ${b.host}:${b.port}: ${e.message}`)));
        server.listen(b.port, b.host, resolve);
      });
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return servers;
}
