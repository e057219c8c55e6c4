/** Parsing of flag values shared by the commands. */

/** A TCP port number from a flag (0 asks the OS for a free one). */
export function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${text}`);
  return n;
}
