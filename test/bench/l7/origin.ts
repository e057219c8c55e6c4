/**
 * The L7 bench's nginx configs: the origin every contender ends at (one worker, `/` answers a
 * 20-byte body) and the nginx contender, written as a complete nginx.conf around a `server` block.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** The origin's server block on `listen` (127.0.0.1:18180 on loopback; 0.0.0.0:8080 in a pod). */
export const originServer = (listen: string): string => `server { listen ${listen}; location / { return 200 '0123456789abcdefghij'; } }`;

export function nginxConf(dir: string, body: string): string {
  const t = join(dir, 'tmp');
  mkdirSync(t, { recursive: true });
  return `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fcgi; uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 1000000;
  ${body}
}
`;
}
