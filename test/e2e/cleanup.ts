/**
 * Cleanup for the e2e topologies: stop what a run started, kill what still runs inside its
 * namespaces (by pid, from `ip netns pids`: only processes in our own namespaces), delete the
 * namespaces; and cleanupStale() for namespaces left by runs that died before cleaning up.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { run } from '../../hosts/node/capture/exec.ts';

/** Every namespace of a run is named `weft-e2e-<pid>-<rand>-<role>`. */
export const E2E_PREFIX = 'weft-e2e-';

export async function stopChildren(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
          child.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Kills what still runs inside our namespaces (by pid, from `ip netns pids`), then deletes them. */
export async function removeNamespaces(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await Promise.all(
    names.map(async (ns) => {
      const pids = await run('ip', ['netns', 'pids', ns], { timeoutMs: 5000 }).catch(() => undefined);
      for (const pid of (pids?.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) killQuietly(pid);
    }),
  );
  // -force: carry on past a namespace that is already gone
  await run('ip', ['-force', '-batch', '-'], { timeoutMs: 10_000, input: names.map((ns) => `netns del ${ns}\n`).join('') }).catch(() => undefined);
}

export function destroySync(all: Array<{ ns: string }>): void {
  for (const r of all) {
    const pids = spawnSync('ip', ['netns', 'pids', r.ns], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
    for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) killQuietly(pid);
    spawnSync('ip', ['netns', 'del', r.ns], { timeout: 5000 });
  }
}

function killQuietly(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/**
 * Deletes namespaces (and kills their processes) left by earlier runs that died before cleaning up:
 * those named `weft-e2e-<pid>-...` whose <pid> is no longer alive. Returns the names removed.
 */
export async function cleanupStale(): Promise<string[]> {
  const list = await run('ip', ['netns', 'list'], { timeoutMs: 5000 });
  const stale = list.stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((name) => {
      const m = new RegExp(`^${E2E_PREFIX}(\\d+)-`).exec(name);
      return m !== null && !alive(Number(m[1]));
    });
  await removeNamespaces(stale);
  return stale;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
