/**
 * The work behind `weft analyze`: read the paths (files, or directories of *.yaml/*.yml), run them
 * through the Store as the control plane would, and print one line per issue plus a summary.
 * Returns the exit code: 1 when there are errors, 0 with only warnings.
 */
import { readFile, stat } from 'node:fs/promises';
import { relative, isAbsolute, sep } from 'node:path';
import type { SourceFile } from '../../../core/ports/index.ts';
import { analyzeFiles, formatIssue, type ConfigIssue, type UnreadableFile } from '../../../core/config/index.ts';
import { listConfigFiles } from './read-config-dir.ts';
import { gatewayApiModel, type GatewayApiStatus } from '../../../core/config/gateway-api-status.ts';
import { XdsTranslator } from '../../../core/xds/index.ts';
import { loadMeshFile } from './mesh-file.ts';

/** A path as the user would type it: relative to the working directory when below it. */
function shown(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : p;
}

export async function collectFiles(paths: readonly string[]): Promise<{ files: SourceFile[]; unreadable: UnreadableFile[] }> {
  const files: SourceFile[] = [];
  const unreadable: UnreadableFile[] = [];
  const seen = new Set<string>();
  const add = async (p: string) => {
    const path = shown(p);
    if (seen.has(path)) return;
    seen.add(path);
    try {
      files.push({ path, text: await readFile(p, 'utf8') });
    } catch (err) {
      unreadable.push({ path, message: (err as Error).message });
    }
  };
  for (const p of paths) {
    const st = await stat(p).catch((err: Error) => err);
    if (st instanceof Error) unreadable.push({ path: p, message: st.message });
    else if (st.isDirectory()) for (const f of await listConfigFiles(p)) await add(f);
    else await add(p);
  }
  return { files, unreadable };
}

export function issueLine(i: ConfigIssue): string {
  return `${i.severity === 'error' ? 'Error' : 'Warning'} ${formatIssue(i)}`;
}

export async function runAnalyze(paths: readonly string[], opts: { mesh?: string; output?: string }, print: (line: string) => void): Promise<number> {
  const { files, unreadable } = await collectFiles(paths);
  let meshFile: SourceFile | undefined;
  if (opts.mesh) {
    try {
      meshFile = await loadMeshFile(opts.mesh);
    } catch (err) {
      unreadable.push({ path: opts.mesh, message: (err as Error).message });
    }
  }
  const result = analyzeFiles(files, { ...(meshFile ? { meshFile } : {}), unreadable });
  const { errors } = result;
  // What the xDS translation cannot carry out as written (unsupported L7 fields), as weft control reports it.
  const xdsWarnings = new XdsTranslator().translate(result.snapshot).warnings;
  const issues = [...result.snapshot.issues, ...xdsWarnings];
  const warnings = issues.filter((i) => i.severity === 'warning');
  const gatewayApi = gatewayApiModel(result.snapshot).status;
  if (opts.output === 'json') {
    print(JSON.stringify({ files: files.map((f) => f.path), errors: errors.length, warnings: warnings.length, issues, gatewayApi }, null, 2));
    return errors.length > 0 ? 1 : 0;
  }
  for (const i of issues) print(issueLine(i));
  for (const line of statusLines(gatewayApi)) print(line);
  const what = paths.join(' ');
  if (errors.length === 0 && warnings.length === 0) {
    print(`✔ No validation issues found when analyzing ${what}.`);
  } else {
    const n = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
    print(`${errors.length > 0 ? 'Error' : 'Warning'}: ${n(errors.length, 'error')} and ${n(warnings.length, 'warning')} in ${n(files.length, 'file')} (${what}).`);
  }
  return errors.length > 0 ? 1 : 0;
}

/** Gateway API status as `weft analyze` prints it: one line per Gateway, listener and route parent. */
export function statusLines(st: GatewayApiStatus): string[] {
  const conds = (cs: readonly { type: string; status: string; reason: string }[]) => cs.map((c) => `${c.type}=${c.status}${c.status === 'True' && c.reason === c.type ? '' : ` (${c.reason})`}`).join(', ');
  const out: string[] = [];
  for (const g of st.gateways) {
    out.push(`Status Gateway ${g.namespace}/${g.name}: ${conds(g.conditions)}${g.addresses.length ? `; addresses ${g.addresses.map((a) => a.value).join(', ')}` : ''}`);
    for (const l of g.listeners) out.push(`Status Gateway ${g.namespace}/${g.name} listener ${l.name}: ${conds(l.conditions)}; attachedRoutes ${l.attachedRoutes}`);
  }
  for (const r of st.routes) {
    for (const p of r.parents) {
      const parent = `${p.parentRef.kind} ${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ''}`;
      out.push(`Status ${r.kind} ${r.namespace}/${r.name} -> ${parent}: ${conds(p.conditions)}`);
    }
  }
  return out;
}
