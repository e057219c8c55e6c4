/**
 * Writes access log lines (core/telemetry's JSON records) without blocking the event loop: lines
 * are queued and written in batches with asynchronous fs.write on a file or on stdout's fd (Node's
 * process.stdout writes synchronously to files and pipes on Linux, which a proxy must not do per
 * connection). A full queue (a stalled disk or reader) drops lines and counts them, never grows
 * without bound and never slows the data path.
 */
import { write } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { formatConnectionLog, type ConnectionLogRecord } from '../../../core/telemetry/access-log.ts';

export interface AccessLogWriterOptions {
  /** A file to append to; stdout (fd 1) when left out. */
  path?: string;
  /** Queued lines beyond which new lines are dropped (default 10,000). */
  maxQueued?: number;
}

const RETRY_MS = 20;

export class AccessLogWriter {
  /** Lines dropped because the queue was full or the target failed. */
  dropped = 0;
  private queue: string[] = [];
  private fd = 1;
  private file: FileHandle | undefined;
  private writing = false;
  private scheduled = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: AccessLogWriterOptions = {}) {}

  /** Opens the file, if one is configured. */
  async start(): Promise<void> {
    if (this.options.path && !this.file) {
      this.file = await open(this.options.path, 'a');
      this.fd = this.file.fd;
    }
  }

  log(record: ConnectionLogRecord): void {
    this.line(formatConnectionLog(record));
  }

  /** Queues one line (it must end with a line feed). */
  line(text: string): void {
    if (this.queue.length >= (this.options.maxQueued ?? 10_000)) {
      this.dropped++;
      return;
    }
    this.queue.push(text);
    if (!this.writing && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Resolves when everything queued so far is written (or dropped). */
  flushed(): Promise<void> {
    if (!this.writing && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.idle;
      this.idle = () => {
        prev?.();
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    await this.flushed();
    await this.file?.close();
    this.file = undefined;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return this.settle();
    this.writing = true;
    const batch = Buffer.from(this.queue.join(''));
    const lines = this.queue.length;
    this.queue = [];
    this.writeAll(batch, 0, lines);
  }

  private writeAll(buf: Buffer, offset: number, lines: number): void {
    write(this.fd, buf, offset, buf.length - offset, null, (err, n) => {
      if (err) {
        // EAGAIN: a non-blocking pipe is full; wait for the reader. Anything else: drop the batch.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(() => this.writeAll(buf, offset, lines), RETRY_MS);
        this.dropped += lines;
      } else if (offset + n < buf.length) {
        return this.writeAll(buf, offset + n, lines);
      }
      this.writing = false;
      if (this.queue.length > 0) this.flush();
      else this.settle();
    });
  }

  private settle(): void {
    const idle = this.idle;
    this.idle = undefined;
    idle?.();
  }
}
