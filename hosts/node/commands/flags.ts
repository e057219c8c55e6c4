/** Flags and process plumbing shared by the commands. */
import type { Command } from 'commander';

/** A TCP port number from a flag (0 asks the OS for a free one). */
export function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${text}`);
  return n;
}


/** The side ports and knobs every proxy command has (node, gateway, waypoint), with Istio's defaults. */
export function proxySideOptions(cmd: Command, o: { accessLog: string; drain: string }): Command {
  return cmd
    .option('--trust-domain <td>', "the control plane's trust domain (its SPIFFE id is checked)", 'cluster.local')
    .option('--admin-port <port>', 'admin (/config_dump)', '15000')
    .option('--stats-port <port>', 'Prometheus stats', '15020')
    .option('--ready-port <port>', 'readiness', '15021')
    .option('--access-log <file>', o.accessLog)
    .option('--drain-ms <ms>', o.drain, '5000');
}

/** Timestamped logs on stderr; debug lines only with --verbose. */
export function stderrLog(verbose: boolean | undefined): (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void {
  return (level, message) => {
    if (level !== 'debug' || verbose) process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
  };
}

/** SIGINT/SIGTERM drain the proxy once, then exit. */
export function drainOnSignals(drain: () => Promise<void>): void {
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await drain();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
