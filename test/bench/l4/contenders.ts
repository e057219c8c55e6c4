/**
 * The L4 bench's contenders, each started fresh on loopback and reached at one entry port that
 * speaks plain HTTP to nginx behind it: direct (nginx itself), Weft (two node processes, HBONE over
 * mTLS between them), stunnel4 and haproxy (two processes each, mutual TLS 1.3 between the hops).
 * Each proxy runs as one process per hop, single-threaded where it can be (haproxy nbthread 1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchPki } from './pki.ts';
import { freePort, waitForPort } from './measure.ts';

export interface Running {
  name: string;
  port: number;
  /** The proxy processes (empty for direct). */
  pids: number[];
  stop(): Promise<void>;
}

function start(cmd: string, args: string[], log: string): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => void (out.length < 20_000 && (out += d.toString()));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code, signal) => {
    if (code && !signal) process.stderr.write(`${log} exited with ${code}: ${out.slice(-2000)}\n`);
  });
  return child;
}

function stopAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), 3000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}

async function running(name: string, port: number, children: ChildProcess[]): Promise<Running> {
  await waitForPort(port);
  return { name, port, pids: children.map((c) => c.pid!), stop: () => stopAll(children) };
}

export async function startNginx(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  for (const d of ['www', 'tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  // 256 MB for the bulk download: nginx sends it with sendfile from the page cache
  await new Promise<void>((r, j) => spawn('truncate', ['-s', '256M', join(dir, 'www', 'big')]).on('exit', (c) => (c ? j(new Error('truncate failed')) : r())));
  const conf = join(dir, 'nginx.conf');
  const t = join(dir, 'tmp');
  writeFileSync(
    conf,
    `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fcgi; uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 10000000;
  sendfile on;
  tcp_nodelay on;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = / { default_type text/plain; return 200 "hello from nginx\\n"; }
    location /big { root ${dir}/www; }
  }
}
`,
  );
  const child = start('nginx', ['-c', conf, '-p', dir], 'nginx');
  await waitForPort(port);
  return { port, stop: () => stopAll([child]) };
}

export async function startWeft(bundle: string, pki: BenchPki, backend: number, nodeFlags: string[] = []): Promise<Running> {
  const [entry, hbone] = [await freePort(), await freePort()];
  const inbound = start(process.execPath, [...nodeFlags, bundle, '--role', 'weft-in', '--listen', `127.0.0.1:${hbone}`, '--target', `127.0.0.1:${backend}`, '--root', pki.root, '--key', pki.server.key, '--chain', pki.server.chain], 'weft-in');
  await waitForPort(hbone);
  const outbound = start(process.execPath, [...nodeFlags, bundle, '--role', 'weft-out', '--listen', `127.0.0.1:${entry}`, '--target', `127.0.0.1:${hbone}`, '--authority', `127.0.0.1:${backend}`, '--root', pki.root, '--key', pki.client.key, '--chain', pki.client.chain], 'weft-out');
  return running('weft', entry, [outbound, inbound]);
}

export async function startStunnel(dir: string, pki: BenchPki, backend: number): Promise<Running> {
  const [entry, tls] = [await freePort(), await freePort()];
  const common = `foreground = yes\npid =\nsyslog = no\ndebug = 3\noutput = ${dir}/stunnel.log\nsocket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n`;
  const tls13 = `CAfile = ${pki.root}\nverifyChain = yes\nsslVersionMin = TLSv1.3\nsslVersionMax = TLSv1.3\n`;
  writeFileSync(join(dir, 'stunnel-in.conf'), `${common}[in]\naccept = 127.0.0.1:${tls}\nconnect = 127.0.0.1:${backend}\ncert = ${pki.server.chain}\nkey = ${pki.server.key}\nrequireCert = yes\n${tls13}`);
  writeFileSync(join(dir, 'stunnel-out.conf'), `${common}[out]\nclient = yes\naccept = 127.0.0.1:${entry}\nconnect = 127.0.0.1:${tls}\ncert = ${pki.client.chain}\nkey = ${pki.client.key}\n${tls13}`);
  const inbound = start('stunnel4', [join(dir, 'stunnel-in.conf')], 'stunnel (in)');
  await waitForPort(tls);
  const outbound = start('stunnel4', [join(dir, 'stunnel-out.conf')], 'stunnel (out)');
  return running('stunnel', entry, [outbound, inbound]);
}

export async function startHaproxy(dir: string, pki: BenchPki, backend: number): Promise<Running> {
  const [entry, tls] = [await freePort(), await freePort()];
  const head = `global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n`;
  const tls13 = `ca-file ${pki.root} verify required ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3`;
  writeFileSync(join(dir, 'haproxy-in.cfg'), `${head}frontend in\n  bind 127.0.0.1:${tls} ssl crt ${pki.server.combined} ${tls13}\n  default_backend be\nbackend be\n  server nginx 127.0.0.1:${backend}\n`);
  writeFileSync(join(dir, 'haproxy-out.cfg'), `${head}frontend out\n  bind 127.0.0.1:${entry}\n  default_backend be\nbackend be\n  server hop 127.0.0.1:${tls} ssl crt ${pki.client.combined} ${tls13}\n`);
  const inbound = start('haproxy', ['-db', '-f', join(dir, 'haproxy-in.cfg')], 'haproxy (in)');
  await waitForPort(tls);
  const outbound = start('haproxy', ['-db', '-f', join(dir, 'haproxy-out.cfg')], 'haproxy (out)');
  return running('haproxy', entry, [outbound, inbound]);
}
