/**
 * The L4 bench's table: medians over the repeats, the spread between repeats (how noisy the run
 * was), the latency each proxy adds over direct, Weft's ratio to the best native peer, and the
 * issue's goals checked.
 */
export interface Sample {
  rps: Record<number, number>;
  p50: Record<number, number>;
  p99: Record<number, number>;
  cpuPer1k: Record<number, number>;
  bulk: number;
  /** CPU per GB moved in the bulk downloads, each hop (outbound hop first): the steadier bulk figure. */
  bulkCpuPerGb: number[];
  connsPerSec: number;
  churnErrors: number;
  rssIdle: number;
  rssLoad: number;
  /** Largest hop's peak RSS during the paced run (~1,000 req/s over 10 connections). */
  rssPaced: number;
  /** The paced run's achieved req/s. */
  pacedRps: number;
}

export const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: number[]): number => {
  const m = median(xs);
  return m ? (Math.max(...xs) - Math.min(...xs)) / m : NaN;
};

type Row = { label: string; get: (s: Sample) => number; fmt: (v: number) => string; better: 'high' | 'low'; proxyOnly?: boolean };

const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');
const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
const k = (v: number): string => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)}k` : '-');

export function table(results: Map<string, Sample[]>, conns: number[]): string {
  const names = [...results.keys()];
  const med = (name: string, get: (s: Sample) => number): number => median((results.get(name) ?? []).map(get));
  const rows: Row[] = [];
  for (const c of conns) rows.push({ label: `req/s, ${c} conn`, get: (s) => s.rps[c]!, fmt: k, better: 'high' });
  for (const c of conns) rows.push({ label: `p50 us, ${c} conn`, get: (s) => s.p50[c]!, fmt: f0, better: 'low' });
  for (const c of conns) rows.push({ label: `p99 us, ${c} conn`, get: (s) => s.p99[c]!, fmt: f0, better: 'low' });
  const direct = (c: number): number => med('direct', (s) => s.p50[c]!);
  for (const c of conns) rows.push({ label: `p50 added over direct, ${c} conn (us)`, get: (s) => s.p50[c]! - direct(c), fmt: f0, better: 'low', proxyOnly: true });
  for (const c of conns) rows.push({ label: `CPU ms / 1k req, ${c} conn (both hops)`, get: (s) => s.cpuPer1k[c]!, fmt: f1, better: 'low', proxyOnly: true });
  rows.push({ label: 'bulk MB/s, 1 conn (best of 3 x 256 MB)', get: (s) => s.bulk, fmt: f0, better: 'high' });
  rows.push({ label: 'bulk CPU ms / GB, busier hop', get: (s) => (s.bulkCpuPerGb.length ? Math.max(...s.bulkCpuPerGb) : NaN), fmt: f0, better: 'low', proxyOnly: true });
  rows.push({ label: 'bulk CPU ms / GB, both hops', get: (s) => (s.bulkCpuPerGb.length ? s.bulkCpuPerGb.reduce((a, b) => a + b, 0) : NaN), fmt: f0, better: 'low', proxyOnly: true });
  rows.push({ label: 'new conn/s (Connection: close, 16 conn)', get: (s) => s.connsPerSec, fmt: k, better: 'high' });
  rows.push({ label: 'connection errors under churn', get: (s) => s.churnErrors, fmt: f0, better: 'low' });
  rows.push({ label: 'RSS idle MB (largest hop)', get: (s) => s.rssIdle, fmt: f1, better: 'low', proxyOnly: true });
  rows.push({ label: `RSS MB at ~1k req/s (largest hop; paced: ${k(med('weft', (s) => s.pacedRps))} req/s for weft)`, get: (s) => s.rssPaced, fmt: f1, better: 'low', proxyOnly: true });
  rows.push({ label: `RSS under load MB (largest hop, ${conns[conns.length - 1]} conn)`, get: (s) => s.rssLoad, fmt: f1, better: 'low', proxyOnly: true });

  const natives = names.filter((n) => n !== 'direct' && n !== 'weft');
  const out = [`| metric | ${names.join(' | ')} | weft / best native |`, `| --- | ${names.map(() => '---:').join(' | ')} | ---: |`];
  for (const r of rows) {
    const cells = names.map((n) => (r.proxyOnly && n === 'direct' ? '' : r.fmt(med(n, r.get))));
    const nat = natives.map((n) => med(n, r.get)).filter(Number.isFinite);
    const best = r.better === 'high' ? Math.max(...nat) : Math.min(...nat);
    const w = results.has('weft') ? med('weft', r.get) : NaN;
    const ratio = Number.isFinite(w) && Number.isFinite(best) && best ? `${(w / best).toFixed(2)}x` : '-';
    out.push(`| ${r.label} | ${cells.join(' | ')} | ${ratio} |`);
  }
  return out.join('\n');
}

/** Spread (max-min)/median of req/s at the top concurrency, per contender: the noise figure. */
export function noise(results: Map<string, Sample[]>, c: number): string {
  return [...results]
    .map(([n, ss]) => `${n} ${(spread(ss.map((s) => s.rps[c]!)) * 100).toFixed(0)}%`)
    .join(', ');
}

export function goals(results: Map<string, Sample[]>, conns: number[]): string[] {
  if (!results.has('weft')) return [];
  const med = (name: string, get: (s: Sample) => number): number => median((results.get(name) ?? []).map(get));
  const natives = [...results.keys()].filter((n) => n !== 'direct' && n !== 'weft');
  const best = (get: (s: Sample) => number, high: boolean): number => {
    const v = natives.map((n) => med(n, get));
    return high ? Math.max(...v) : Math.min(...v);
  };
  const lo = conns[0]!;
  const hi = conns[conns.length - 1]!;
  const d = med('direct', (s) => s.p50[lo]!);
  const added = (s: Sample): number => s.p50[lo]! - d;
  const check = (ok: boolean, text: string): string => `${ok ? 'MET ' : 'MISSED'} ${text}`;
  const w = (get: (s: Sample) => number): number => med('weft', get);
  return [
    check(w(added) <= 1.5 * best(added, false), `p50 added at ${lo} conn: weft ${f0(w(added))} us vs best native ${f0(best(added, false))} us (goal: at most 1.5x, ${f0(1.5 * best(added, false))} us)`),
    check(w((s) => s.rps[hi]!) >= best((s) => s.rps[hi]!, true), `req/s at ${hi} conn: weft ${k(w((s) => s.rps[hi]!))} vs best native ${k(best((s) => s.rps[hi]!, true))}`),
    check(w((s) => s.p99[hi]!) <= best((s) => s.p99[hi]!, false), `p99 at ${hi} conn: weft ${f0(w((s) => s.p99[hi]!))} us vs best native ${f0(best((s) => s.p99[hi]!, false))} us`),
    check(w((s) => s.cpuPer1k[hi]!) <= best((s) => s.cpuPer1k[hi]!, false), `CPU / 1k req at ${hi} conn: weft ${f1(w((s) => s.cpuPer1k[hi]!))} ms vs best native ${f1(best((s) => s.cpuPer1k[hi]!, false))} ms`),
    check(w((s) => s.bulk) >= 0.8 * best((s) => s.bulk, true), `bulk: weft ${f0(w((s) => s.bulk))} MB/s vs 80% of best native ${f0(0.8 * best((s) => s.bulk, true))} MB/s`),
    check(Math.max(...results.get('weft')!.map((s) => s.churnErrors)) === 0, `connection errors under churn: weft ${Math.max(...results.get('weft')!.map((s) => s.churnErrors))}`),
    check(w((s) => s.rssPaced) < 64, `RSS at ~1,000 req/s (${k(w((s) => s.pacedRps))}): weft ${f1(w((s) => s.rssPaced))} MB per node proxy (largest), goal < 64 (at ${hi} conn: ${f1(w((s) => s.rssLoad))} MB)`),
  ];
}
