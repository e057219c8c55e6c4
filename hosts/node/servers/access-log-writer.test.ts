import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { connectionLogRecord } from '../../../core/telemetry/access-log.ts';
import { tcpLabels } from '../../../core/telemetry/tcp-labels.ts';
import { AccessLogWriter } from './access-log-writer.ts';

describe('AccessLogWriter', () => {
  test('appends JSON lines in order, batched, to a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-log-'));
    try {
      const w = new AccessLogWriter({ path: join(dir, 'access.log') });
      await w.start();
      const labels = tcpLabels({ reporter: 'source' });
      for (let i = 0; i < 500; i++) {
        w.log(connectionLogRecord({ startTime: 0, endTime: i, labels, srcAddr: `10.0.0.1:${i}`, dstAddr: '10.0.0.2:80', bytes: { received: i, sent: 0 } }));
      }
      await w.close();
      const lines = (await readFile(join(dir, 'access.log'), 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(500);
      expect(lines.map((l) => JSON.parse(l).bytes_sent)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(w.dropped).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a full queue drops and counts instead of growing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-log-'));
    try {
      const w = new AccessLogWriter({ path: join(dir, 'a.log'), maxQueued: 10 });
      await w.start();
      for (let i = 0; i < 25; i++) w.line(`{"n":${i}}\n`); // all in one tick: nothing written yet
      expect(w.dropped).toBe(15);
      await w.close();
      expect((await readFile(join(dir, 'a.log'), 'utf8')).trim().split('\n')).toHaveLength(10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
