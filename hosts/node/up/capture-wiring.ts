/**
 * `weft up --capture`'s moving parts: the node proxy's outbound listener in the host's namespace
 * (127.0.0.1:15001; a connection's real destination read with SO_ORIGINAL_DST), and the iptables
 * rules (host-capture.ts) kept equal to the mesh's service addresses as config changes.
 */
import { createServer, type Server } from 'node:net';
import type { ControlPlane } from '../control/control-plane.ts';
import type { NodeProxy } from '../node-proxy/index.ts';
import type { MeshSnapshot } from '../../../core/config/index.ts';
import { HostCapture, type CapturedServicePort } from './host-capture.ts';

export interface StartedCapture {
  port: number;
  captured(): readonly string[];
  stop(): Promise<void>;
}

/** Every TCP port of every service address in the snapshot. */
export function captureTargets(snap: MeshSnapshot): CapturedServicePort[] {
  const out: CapturedServicePort[] = [];
  for (const s of snap.services) for (const ip of s.addresses) for (const p of s.ports) if (p.protocol === 'TCP') out.push({ ip, port: p.port });
  return out;
}

/** How often the rules are compared with the control plane's snapshot (a cheap version check). */
const SYNC_EVERY_MS = 500;

export async function startHostCapture(
  control: ControlPlane,
  node: NodeProxy,
  port: number,
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void,
): Promise<StartedCapture> {
  const { originalDstAvailable, originalDstString } = await import('../capture/index.ts');
  if (!originalDstAvailable()) throw new Error('--capture needs the original-dst addon (native/original-dst, built by npm ci); run without --capture and use SOCKS5/CONNECT instead');
  const rules = new HostCapture({ proxyPort: port, log });
  await rules.start();
  const server: Server = createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => {});
    let destination: string;
    try {
      destination = originalDstString(socket);
    } catch {
      return void socket.destroy();
    }
    // dialled directly (no redirect): the "original" destination is this listener; refuse the loop
    if (destination === `${socket.localAddress}:${socket.localPort}`) return void socket.resetAndDestroy();
    void node.outbound.handleCaptured(socket, socket.remoteAddress ?? '127.0.0.1', destination);
  });
  server.on('error', (e) => log('error', `capture listener: ${e.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (e: Error) => {
    await rules.stop();
    throw new Error(`--capture: cannot listen on 127.0.0.1:${port}: ${e.message}`);
  });
  let captured: string[] = [];
  let version = -1;
  const sync = async (): Promise<void> => {
    const snap = control.snapshot;
    if (snap.version === version) return;
    version = snap.version;
    const targets = captureTargets(snap);
    await rules.sync(targets);
    captured = targets.map((t) => `${t.ip}:${t.port}`);
  };
  try {
    await sync();
  } catch (e) {
    server.close();
    await rules.stop();
    throw e;
  }
  const timer = setInterval(() => void sync().catch((e: Error) => log('error', `capture: ${e.message}`)), SYNC_EVERY_MS);
  timer.unref();
  return {
    port,
    captured: () => captured,
    stop: async () => {
      clearInterval(timer);
      await rules.stop().catch((e: Error) => log('error', `capture: rules not removed: ${e.message}`));
      server.close();
    },
  };
}
