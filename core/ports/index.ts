/**
 * The small interfaces a host implements so that core/ never does I/O itself
 * (hono's adapter split, ztunnel's I/O traits). Core receives these; it never imports a runtime.
 */

/** Wall and monotonic time. Core never reads the clock on its own. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Monotonic milliseconds, for durations. */
  monotonic(): number;
}

/** A timer the host schedules; core asks for one and may cancel it. */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

/** A text file as read by a host: core parses text, the host reads the disk. */
export interface SourceFile {
  /** The path shown in messages (relative to the config root where possible). */
  readonly path: string;
  readonly text: string;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => (globalThis.performance ? globalThis.performance.now() : Date.now()),
};
