/**
 * The single binary (build.mjs --binary) on a machine with nothing else: it is built once from the
 * dist under test (its prepared built-ins go inside; WEFT_BINARY names one already built instead),
 * copied into an empty directory and run from there with an emptied environment (PATH empty, HOME
 * unwritable, TMPDIR an empty directory we watch): `weft up` on the embedded sample gets ready,
 * serves the ingress over the mesh with the sample's rate-limit plugin running, and writes nothing
 * outside its --state directory. Then what the binary cannot do must say so: a plugin component
 * nobody prepared (jco is not inside) and `weft plugin build`. Its dynamic dependencies are a
 * plain glibc system's, and the systemd units pass `systemd-analyze verify` where that exists.
 * HBONE's 15008 cannot move and must be free on 127.0.0.1 (as for test/integration/up.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/weft-process.ts';

const DIST = resolve(process.env.WEFT_DIST ?? 'dist');
const HELLO_HOST = process.platform === 'linux' ? '127.0.0.2' : '127.0.0.1';
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** the SO_ORIGINAL_DST addon as npm ci builds it: build.mjs --binary packs it when it exists */
const ADDON_BUILT = resolve('native/original-dst/build/Release/original_dst.node');

/** why the binary cannot be built or run here, or undefined */
function cannotBuild(): string | undefined {
  if (process.env.WEFT_BINARY) return existsSync(process.env.WEFT_BINARY) ? undefined : `WEFT_BINARY=${process.env.WEFT_BINARY} does not exist`;
  if (process.platform !== 'linux') return `the test runs the binary with /proc and an emptied environment on Linux only (this is ${process.platform})`;
  // a node built without single executable application support has no fuse for postject to flip
  if (!readFileSync(process.execPath).includes(SENTINEL)) return `${process.execPath} has no SEA fuse (${SENTINEL}): this Node cannot make single executables`;
  // a dist without prepared built-ins is a failure (buildBinary says so), not a skip
  return undefined;
}
const skip = cannotBuild();

function free(port: number, host: string): Promise<boolean> {
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, host, () => s.close(() => r(true)));
  });
}

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  stop: () => Promise<void>;
}

/** runs the copied binary with an emptied environment and waits for `weft up`'s banner */
async function runUp(bin: string, cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Run & { banner: { ready: string; stats: string; admin: string } }> {
  const child = spawn(bin, ['up', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const banner = await new Promise<{ ready: string; stats: string; admin: string }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`weft up (binary) did not start in 30 s: ${out}${err}`)), 30_000);
    child.stdout!.on('data', () => {
      const ready = /ready\s+(http:\/\/\S+\/healthz\/ready)/.exec(out);
      const stats = /stats\s+(http:\/\/\S+)/.exec(out);
      const admin = /admin\s+(http:\/\/\S+)\/config_dump/.exec(out);
      if (ready && stats && admin && out.includes('Next, try:')) {
        clearTimeout(timer);
        res({ ready: ready[1]!, stats: stats[1]!, admin: admin[1]! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`weft up (binary) exited with ${code}: ${out}${err}`));
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return { child, out: () => out, err: () => err, stop, banner };
}

const ZERO_PORTS = ['--xds-port', '--secure-port', '--http-port', '--admin-port', '--stats-port', '--ready-port', '--socks-port', '--dns-port'].flatMap((f) => [f, '0']);

describe.skipIf(skip !== undefined)(`the single binary${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'weft-binary-'));
  const root = join(work, 'root'); // the empty directory: the binary and nothing else
  const state = join(work, 'state');
  const tmp = join(work, 'tmp'); // TMPDIR of the binary: must stay empty
  const env = { PATH: '', HOME: '/nonexistent', TMPDIR: tmp };
  let bin = '';
  let built = '';
  let up: Awaited<ReturnType<typeof runUp>> | undefined;
  let offset = 0;

  beforeAll(async () => {
    for (const h of new Set(['127.0.0.1', HELLO_HOST])) {
      if (!(await free(15008, h))) throw new Error(`${h}:15008 is taken (another weft node or weft up?): weft up needs it for HBONE`);
    }
    if (process.env.WEFT_BINARY) {
      built = resolve(process.env.WEFT_BINARY);
    } else {
      // one build per run: bundle, pack, blob, postject (about 10-15 s, most of it postject)
      const { buildBinary } = (await import('../../scripts/build-binary.mjs' as string)) as { buildBinary: (o: { dist: string; log?: (l: string) => void }) => Promise<string> };
      built = await buildBinary({ dist: DIST, log: (l) => console.log(l) });
    }
    mkdirSync(root);
    mkdirSync(tmp);
    bin = join(root, 'weft');
    copyFileSync(built, bin);
    for (let i = 0; i < 20 && !offset; i++) {
      const o = 100 + Math.floor(Math.random() * 400) * 10;
      const ok = await Promise.all([free(8080 + o, '127.0.0.1'), free(8081 + o, '127.0.0.1'), free(18080 + o, '127.0.0.1'), free(18081 + o, HELLO_HOST)]);
      if (ok.every(Boolean)) offset = o;
    }
    if (!offset) throw new Error('no free port offset for the sample');
    up = await runUp(bin, root, env, ['--state', state, '--port-offset', String(offset), ...ZERO_PORTS]);
  }, 240_000);

  afterAll(async () => {
    await up?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('needs only what a plain Debian (glibc) system has', () => {
    const ldd = spawnSync('ldd', [built], { encoding: 'utf8' });
    if (ldd.error) return console.log(`ldd not available (${ldd.error.message}); dependencies not checked`);
    const libs = ldd.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter(Boolean);
    expect(ldd.stdout).not.toContain('not found');
    // glibc's own libraries, the C++ runtime (libstdc++6 and libgcc-s1 are in every Debian: apt needs them) and the vDSO
    const allowed = /^(linux-vdso\.so\.1|\/lib64\/ld-linux-x86-64\.so\.2|\/lib\/ld-linux-aarch64\.so\.1|lib(c|m|dl|pthread|rt)\.so\.\d+|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$/;
    expect(libs.filter((l) => !allowed.test(l)), ldd.stdout).toEqual([]);
  });

  it('gets ready from an empty directory with an emptied environment', async () => {
    const res = await fetch(up!.banner.ready);
    expect(res.status).toBe(200);
    const ms = Number(/ready in (\d+) ms/.exec(up!.out())?.[1]);
    console.log(`single binary: weft up ready in ${ms} ms (first start: CA made, built-ins extracted)`);
    expect(ms).toBeGreaterThan(0);
  });

  it('routes the ingress over the mesh, and the sample plugin runs', async () => {
    const r = await fetch(`http://127.0.0.1:${8080 + offset}/echo/from-binary`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ service: 'echo', path: '/echo/from-binary' });
    const hello = await fetch(`http://127.0.0.1:${8081 + offset}/hello/x`);
    expect(await hello.json()).toMatchObject({ service: 'hello' });
    // the rate-limit WasmPlugin (a built-in, from the binary's assets) counted the requests
    const calls = await eventually(async () => {
      const stats = await (await fetch(up!.banner.stats)).text();
      const m = /weft_plugin_calls_total\{plugin="demo\.rate-limit",result="ok"\} (\d+)/.exec(stats);
      return m && Number(m[1]) >= 1 ? Number(m[1]) : undefined;
    }, 5000, 'the rate-limit plugin ran');
    expect(calls).toBeGreaterThanOrEqual(1);
    const stats = await (await fetch(up!.banner.stats)).text();
    expect(stats).toMatch(/connection_security_policy="mutual_tls"/);
  });

  it('refuses `weft plugin new|build|test` with a clear reason', () => {
    for (const args of [['new', 'p', '--kind', 'http-filter', '--dir', join(work, 'nowhere')], ['build', join(work, 'nowhere')], ['test', join(work, 'nowhere')]]) {
      const r = spawnSync(bin, ['plugin', ...args], { cwd: root, env, encoding: 'utf8' });
      expect(r.status, args[0]).toBe(1);
      expect(r.stderr).toContain('no plugin toolchain');
      expect(r.stderr).toContain('machine with Node');
    }
    expect(existsSync(join(work, 'nowhere'))).toBe(false);
  });

  it('wrote nothing outside its state directory', async () => {
    await up!.stop();
    expect(readdirSync(root)).toEqual(['weft']);
    expect(readdirSync(tmp)).toEqual([]);
    const inState = readdirSync(state).sort();
    expect(inState).toEqual(expect.arrayContaining(['binary', 'root-cert.pem', 'token-key']));
    // the built-ins came from the binary's assets, extracted once into the state dir
    const [id, ...others] = readdirSync(join(state, 'binary'));
    expect(others).toEqual([]);
    expect(readdirSync(join(state, 'binary', id!, 'plugins'))).toContain('rate-limit.wasm');
  });

  it('loads only prepared components, and says what to do about another one', async () => {
    // after the sample's run: HBONE's 15008 is one per machine
    // a built-in with one more custom section: a valid component nobody prepared (new sha256)
    const cfg = join(work, 'config');
    mkdirSync(cfg);
    const builtin = readFileSync(join(DIST, 'plugins', 'rate-limit.wasm'));
    const name = Buffer.from('weft-test');
    const odd = join(work, 'odd.wasm');
    writeFileSync(odd, Buffer.concat([builtin, Buffer.from([0, name.length + 1, name.length]), name]));
    const port = 8090 + offset;
    writeFileSync(
      join(cfg, 'mesh.yaml'),
      [
        'apiVersion: networking.istio.io/v1',
        'kind: Gateway',
        'metadata: { name: gw, namespace: istio-system }',
        'spec:',
        '  selector: { istio: ingressgateway }',
        `  servers: [{ port: { number: ${port}, name: http, protocol: HTTP }, hosts: ["*"] }]`,
        '---',
        'apiVersion: extensions.istio.io/v1alpha1',
        'kind: WasmPlugin',
        'metadata: { name: odd, namespace: istio-system }',
        'spec:',
        '  selector: { matchLabels: { istio: ingressgateway } }',
        `  url: file://${odd}`,
        '  phase: AUTHZ',
        '',
      ].join('\n'),
    );
    const state2 = join(work, 'state2');
    const run = await runUp(bin, root, env, ['--config', cfg, '--state', state2, '--ready-port', '0', '--admin-port', '0', '--stats-port', '0', '--xds-port', '0', '--secure-port', '0', '--http-port', '0', '--socks-port', '0', '--dns-port', '0']).catch((e: Error) => e);
    // weft up may refuse to start with a plugin that fails, or serve without it: either way, it says why
    try {
      const said = run instanceof Error ? run.message : await eventually(() => (run.err().includes('not prepared') ? run.err() : undefined), 10_000, 'the plugin failure in the log');
      expect(said).toContain('is not prepared');
      expect(said).toContain('weft plugin build');
      if (!(run instanceof Error)) {
        expect(run.child.exitCode).toBeNull(); // no crash
        const dump = (await (await fetch(`${run.banner.admin}/gateway/config_dump`)).json()) as { plugins: { name: string; state: string }[] };
        expect(dump.plugins).toEqual([expect.objectContaining({ name: 'istio-system.odd', state: 'failed' })]);
      }
    } finally {
      if (!(run instanceof Error)) await run.stop();
    }
    expect(readdirSync(root)).toEqual(['weft']);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('runs the capture netns helper script as its own node (`weft -e` with $WEFT_NETNS_HELPER)', async () => {
    // capture/netns-helper.ts starts `nsenter --net=... <process.execPath> -e SCRIPT`, and in the
    // binary process.execPath is the binary: the same script, minus nsenter (that needs root)
    const { HELPER_PRELUDE } = await import('../../hosts/node/capture/netns-helper.ts');
    // it also loads the SO_ORIGINAL_DST addon the binary unpacked (the ABI of the Node inside matches)
    const [id] = readdirSync(join(state, 'binary'));
    const addon = join(state, 'binary', id!, 'original_dst.node');
    const hasAddon = existsSync(ADDON_BUILT);
    expect(existsSync(addon)).toBe(hasAddon);
    const script = `${HELPER_PRELUDE}
const m = { exports: {} };
if (spec.addon) process.dlopen(m, spec.addon);
send({ kind: 'handle', net: typeof net.createServer, addon: typeof m.exports.originalDst }).then(finish, fail);`;
    const spec = { addon: hasAddon ? addon : undefined };
    const child = spawn(bin, ['-e', script], { cwd: root, env: { PATH: '', WEFT_NETNS_HELPER: JSON.stringify(spec) }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const got: unknown[] = [];
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no answer from the helper: ${err}`)), 10_000);
      child.on('message', (m: { kind?: string }) => {
        got.push(m);
        if (m.kind === 'done' || m.kind === 'error') {
          clearTimeout(t);
          child.send({ kind: 'release' });
          res();
        }
      });
      child.once('exit', (code) => rej(new Error(`helper exited with ${code}: ${err}`)));
    });
    expect(got).toEqual([{ kind: 'handle', net: 'function', addon: hasAddon ? 'function' : 'undefined' }, { kind: 'done', count: 1 }]);
  });

  it('has systemd units that systemd-analyze accepts', () => {
    const units = ['weft.service', 'weft.service.d/capture.conf'].map((f) => resolve('deploy/systemd', f));
    for (const u of units) expect(existsSync(u), u).toBe(true);
    // the NODE_OPTIONS the unit gives are ones the binary accepts (a refused one stops it at start)
    const nodeOptions = /^Environment="NODE_OPTIONS=([^"]*)"$/m.exec(readFileSync(units[0]!, 'utf8'))?.[1];
    if (nodeOptions !== undefined) {
      const r = spawnSync(bin, ['--version'], { cwd: root, env: { ...env, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    const which = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (which.error) return console.log('systemd-analyze is not installed here: units not verified');
    // verify wants ExecStart's binary to exist: a copy of the unit pointing at the built binary
    const dir = join(work, 'units');
    mkdirSync(dir);
    const unit = readFileSync(units[0]!, 'utf8').replaceAll('/usr/local/bin/weft', bin);
    writeFileSync(join(dir, 'weft.service'), unit);
    mkdirSync(join(dir, 'weft.service.d'));
    writeFileSync(join(dir, 'weft.service.d', 'capture.conf'), readFileSync(units[1]!, 'utf8').replaceAll('/usr/local/bin/weft', bin));
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'weft.service')], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
    // verify prints nothing for a sound unit; lines about other units on this machine are not ours
    const ours = `${v.stdout}${v.stderr}`.split('\n').filter((l) => l.includes('weft'));
    expect(ours, `${v.stdout}${v.stderr}`).toEqual([]);
    // systemd's own score of the sandbox (0 = locked down, 10 = none): 2.0 when written; past 3.0 something was dropped
    const sec = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=30', join(dir, 'weft.service')], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
    expect(sec.status, `${sec.stdout.split('\n').slice(-3).join('\n')}${sec.stderr}`).toBe(0);
  });
});
