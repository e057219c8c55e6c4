/**
 * OTLP/HTTP JSON span exporter (https://opentelemetry.io/docs/specs/otlp/#otlphttp): recorded
 * spans are queued and POSTed to `<endpoint>/v1/traces` in batches, as the SDK's batch span
 * processor does (queue 2048, batch 512, every 5 s or as soon as a batch is full).
 *
 * The data path only ever pushes onto a bounded queue: when it is full the span is dropped and
 * counted, so a slow or absent collector costs memory up to the bound and never a request. One
 * export is in flight at a time; a failed one (network error, timeout, 429/502/503/504) is retried
 * with exponential backoff (Retry-After honoured, capped) a bounded number of times, then dropped
 * and counted; other statuses drop the batch at once (the OTLP spec's retryable set).
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { httpSpanToOtlp, traceExportRequest, type HttpSpan } from '../../../core/telemetry/otlp-json.ts';
import type { SpanSink } from './tracing.ts';

export interface PostResult {
  status: number;
  /** Milliseconds from a Retry-After header. */
  retryAfterMs?: number;
  body?: string;
}

export interface OtlpExporterOptions {
  /** Collector base URL (`http://host:4318`); `/v1/traces` is appended unless it is already there. */
  endpoint: string;
  /** Resource attributes: `service.name` and others. */
  resource: Record<string, string>;
  maxQueue?: number;
  maxBatch?: number;
  /** Export at least this often when spans are waiting (ms). */
  flushMs?: number;
  /** Per POST (ms). */
  timeoutMs?: number;
  /** Further attempts after a retryable failure. */
  maxRetries?: number;
  /** First backoff (ms), doubled per retry, capped at 30 s. */
  backoffMs?: number;
  /** The transport (tests); default: node:http(s) over one keep-alive connection. */
  post?: (url: string, body: string, timeoutMs: number) => Promise<PostResult>;
  log?(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export interface OtlpExporterStatus {
  endpoint: string;
  queued: number;
  exported: number;
  /** Spans dropped: queue full, retries exhausted, refused by the collector, or still queued at shutdown. */
  dropped: number;
  /** Spans the collector took but reported rejected (partialSuccess). */
  rejected: number;
  failedExports: number;
  retries: number;
  lastError?: string;
}

const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_BACKOFF_MS = 30_000;
const SCOPE = { name: 'weft', version: '0.1.0' };

export function tracesUrl(endpoint: string): string {
  const e = endpoint.replace(/\/+$/, '');
  return e.endsWith('/v1/traces') ? e : `${e}/v1/traces`;
}

/** Bytes of a collector's answer kept (partialSuccess is small; an error page is not needed whole). */
const MAX_ANSWER = 64 * 1024;

/** POST over node:http(s) with one kept-alive connection (fetch would copy the body through web streams). */
function nodePost(url: string): { post: NonNullable<OtlpExporterOptions['post']>; close(): void } {
  const https = url.startsWith('https:');
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const send = https ? httpsRequest : httpRequest;
  const post = (target: string, body: string, timeoutMs: number) =>
    new Promise<PostResult>((resolve, reject) => {
      const req = send(target, { method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < MAX_ANSWER) text += d;
        });
        res.on('error', reject);
        res.on('end', () => {
          const secs = Number(res.headers['retry-after'] ?? NaN);
          resolve({ status: res.statusCode ?? 0, body: text, ...(Number.isFinite(secs) && secs >= 0 ? { retryAfterMs: secs * 1000 } : {}) });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

export class OtlpExporter implements SpanSink {
  readonly url: string;
  readonly #o: Required<Pick<OtlpExporterOptions, 'maxQueue' | 'maxBatch' | 'flushMs' | 'timeoutMs' | 'maxRetries' | 'backoffMs'>> & OtlpExporterOptions;
  readonly #post: NonNullable<OtlpExporterOptions['post']>;
  readonly #closeTransport: () => void;
  #queue: HttpSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #closed = false;
  #lastWarn = 0;
  readonly #stats = { exported: 0, dropped: 0, rejected: 0, failedExports: 0, retries: 0 };
  #lastError: string | undefined;

  constructor(o: OtlpExporterOptions) {
    this.#o = { maxQueue: 2048, maxBatch: 512, flushMs: 5000, timeoutMs: 10_000, maxRetries: 3, backoffMs: 1000, ...o };
    if (this.#o.maxBatch > this.#o.maxQueue) this.#o.maxBatch = this.#o.maxQueue;
    this.url = tracesUrl(o.endpoint);
    new URL(this.url); // a bad endpoint is a startup error, not a per-export one
    const transport = o.post ? undefined : nodePost(this.url);
    this.#post = o.post ?? transport!.post;
    this.#closeTransport = () => transport?.close();
  }

  /** The data path: O(1), never throws, never waits. */
  add(span: HttpSpan): void {
    const q = this.#queue;
    if (this.#closed || q.length >= this.#o.maxQueue) {
      this.#stats.dropped++;
      return;
    }
    q.push(span);
    if (q.length >= this.#o.maxBatch) this.#kick();
    else if (this.#timer === undefined && this.#sending === undefined) this.#arm();
  }

  status(): OtlpExporterStatus {
    return { endpoint: this.url, queued: this.#queue.length, ...this.#stats, ...(this.#lastError ? { lastError: this.#lastError } : {}) };
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#o.flushMs);
    this.#timer.unref();
  }

  #kick(): void {
    if (this.#sending !== undefined || this.#queue.length === 0) return;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // encoding and sending start on the next turn of the loop, never inside the request that filled the batch
    this.#sending = new Promise<void>((r) => setImmediate(r)).then(() => this.#exportLoop()).finally(() => {
      this.#sending = undefined;
      if (this.#queue.length >= this.#o.maxBatch && !this.#closed) this.#kick();
      else if (this.#queue.length > 0 && !this.#closed) this.#arm();
    });
  }

  async #exportLoop(): Promise<void> {
    const batch = this.#queue.length <= this.#o.maxBatch ? this.#queue : this.#queue.slice(0, this.#o.maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(batch.length);
    await this.#send(batch, this.#closed ? 0 : this.#o.maxRetries);
  }

  /** Sends one batch with up to `retries` further attempts; counts it exported or dropped. */
  async #send(batch: HttpSpan[], retries: number): Promise<void> {
    let body: string;
    try {
      // JSON.stringify over plain objects (V8's fast path) measured faster than writing the text by hand
      body = JSON.stringify(traceExportRequest(this.#o.resource, SCOPE, batch.map(httpSpanToOtlp)));
    } catch (e) {
      return this.#fail(batch.length, `encoding: ${(e as Error).message}`);
    }
    let backoff = this.#o.backoffMs;
    for (let attempt = 0; ; attempt++) {
      let r: PostResult | undefined;
      let error: string;
      try {
        r = await this.#post(this.url, body, this.#o.timeoutMs);
        if (r.status >= 200 && r.status < 300) {
          const rejected = rejectedSpans(r.body);
          this.#stats.exported += batch.length - rejected;
          this.#stats.rejected += rejected;
          return;
        }
        error = `HTTP ${r.status}`;
      } catch (e) {
        error = (e as Error).message || String(e);
      }
      const retryable = r === undefined || RETRYABLE.has(r.status);
      if (!retryable || attempt >= retries || this.#closed) return this.#fail(batch.length, error);
      this.#stats.retries++;
      const wait = Math.min(MAX_BACKOFF_MS, r?.retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      await new Promise<void>((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  #fail(spans: number, error: string): void {
    this.#stats.dropped += spans;
    this.#stats.failedExports++;
    this.#lastError = error;
    const now = Date.now();
    if (now - this.#lastWarn > 30_000) {
      this.#lastWarn = now;
      this.#o.log?.('warn', `OTLP export to ${this.url} failed (${error}); ${spans} spans dropped (${this.#stats.dropped} so far)`);
    }
  }

  /** Stops taking spans and tries once, within `graceMs`, to send what is queued. */
  async close(graceMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rest = async () => {
      await this.#sending;
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#o.maxBatch);
        await this.#send(batch, 0);
      }
    };
    let t: NodeJS.Timeout | undefined;
    await Promise.race([rest(), new Promise<void>((r) => (t = setTimeout(r, graceMs)))]);
    clearTimeout(t);
    this.#stats.dropped += this.#queue.length;
    this.#queue = [];
    this.#closeTransport();
  }
}

/** ExportTraceServiceResponse.partial_success.rejected_spans (int64: a string or a number in JSON). */
function rejectedSpans(body: string | undefined): number {
  if (!body || !body.includes('rejected')) return 0;
  try {
    const n = Number((JSON.parse(body) as { partialSuccess?: { rejectedSpans?: string | number } }).partialSuccess?.rejectedSpans ?? 0);
    return Number.isFinite(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}
