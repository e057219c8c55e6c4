import { describe, expect, it } from 'vitest';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { addonCandidates, originalDstAvailable, originalDstString, socketFd, tuneMallocForBulk } from './original-dst.ts';

describe('SO_ORIGINAL_DST addon loader', () => {
  it('looks beside the module, then for native/original-dst/build in every parent (source tree and dist/ alike)', () => {
    const c = addonCandidates('/repo/dist');
    expect(c).toContain('/repo/dist/original_dst.node');
    expect(c).toContain(join('/repo', 'native/original-dst/build/Release/original_dst.node'));
    expect(addonCandidates('/repo/hosts/node/capture')).toContain(join('/repo', 'native/original-dst/build/Release/original_dst.node'));
  });

  // Built by `npm ci` (allowScripts); where it was not built, capture is unavailable and says so.
  it.skipIf(!originalDstAvailable())('reads a socket: a connection that was not redirected reports its own address (or ENOENT without conntrack)', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect(port, '127.0.0.1');
    const socket = await accepted;
    try {
      expect(socketFd(socket)).toBeGreaterThan(2);
      let got: string | undefined;
      try {
        got = originalDstString(socket);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
      }
      if (got !== undefined) expect(got).toBe(`127.0.0.1:${port}`);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });

  // glibc (Debian, the CI machine): mallopt takes all three settings; elsewhere it reports false
  it.skipIf(!originalDstAvailable() || process.platform !== 'linux' || !(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime)('applies the bulk malloc settings (glibc mallopt)', () => {
    expect(tuneMallocForBulk()).toBe(true);
  });
});
