/**
 * The `weft cni` side (protocol.ts): one request to the local node proxy's Unix socket, resolved with
 * its answer; errors say what to check (is the node proxy running, on which socket).
 */
import { request } from 'node:http';
import { CNI_PATHS, type CniOp, type CniRequest, type CniResponse } from './protocol.ts';

export async function cniCall(socketPath: string, op: CniOp, body: CniRequest, opts: { timeoutMs?: number } = {}): Promise<{ ok: true; message?: string }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      { socketPath, path: CNI_PATHS[op], method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.once('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer from the node proxy on ${socketPath} in ${timeoutMs} ms`)), timeoutMs);
    req.once('close', () => clearTimeout(timer));
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new Error(`no node proxy is listening on ${socketPath} (${err.code}): is \`weft node\` running, with --socket ${socketPath}?`));
      } else if (err.code === 'EACCES') {
        reject(new Error(`permission denied on ${socketPath}: run as root, as the CNI plugin does`));
      } else reject(err);
    });
    req.end(payload);
  });
  let answer: CniResponse;
  try {
    answer = JSON.parse(text) as CniResponse;
  } catch {
    throw new Error(`the node proxy answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!answer.ok) throw new Error(`${op} ${body.pod}: ${answer.error}`);
  return answer;
}
