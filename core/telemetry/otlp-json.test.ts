import { describe, expect, it } from 'vitest';
import { httpSpanToOtlp, SpanKind, StatusCode, traceExportRequest, unixNanoString, type HttpSpan } from './otlp-json.ts';

/**
 * The fields of each message of opentelemetry-proto (collector/trace/v1/trace_service.proto,
 * trace/v1/trace.proto, resource/v1, common/v1) in their JSON (lowerCamelCase) names: the output
 * must use only these, with the types the OTLP JSON encoding asks for.
 */
const FIELDS: Record<string, Record<string, string>> = {
  ExportTraceServiceRequest: { resourceSpans: 'ResourceSpans[]' },
  ResourceSpans: { resource: 'Resource', scopeSpans: 'ScopeSpans[]', schemaUrl: 'string' },
  Resource: { attributes: 'KeyValue[]', droppedAttributesCount: 'uint32', entityRefs: 'any[]' },
  ScopeSpans: { scope: 'InstrumentationScope', spans: 'Span[]', schemaUrl: 'string' },
  InstrumentationScope: { name: 'string', version: 'string', attributes: 'KeyValue[]', droppedAttributesCount: 'uint32' },
  Span: {
    traceId: 'hex16',
    spanId: 'hex8',
    traceState: 'string',
    parentSpanId: 'hex8',
    flags: 'uint32',
    name: 'string',
    kind: 'enum',
    startTimeUnixNano: 'fixed64',
    endTimeUnixNano: 'fixed64',
    attributes: 'KeyValue[]',
    droppedAttributesCount: 'uint32',
    events: 'any[]',
    droppedEventsCount: 'uint32',
    links: 'any[]',
    droppedLinksCount: 'uint32',
    status: 'Status',
  },
  Status: { message: 'string', code: 'enum' },
  KeyValue: { key: 'string', value: 'AnyValue' },
  AnyValue: { stringValue: 'string', boolValue: 'bool', intValue: 'int64', doubleValue: 'double', arrayValue: 'any', kvlistValue: 'any', bytesValue: 'string' },
};

function validate(type: string, v: unknown, path: string): void {
  if (type.endsWith('[]')) {
    expect(Array.isArray(v), path).toBe(true);
    (v as unknown[]).forEach((x, i) => validate(type.slice(0, -2), x, `${path}[${i}]`));
    return;
  }
  switch (type) {
    case 'any':
      return;
    case 'string':
      return void expect(typeof v, path).toBe('string');
    case 'bool':
      return void expect(typeof v, path).toBe('boolean');
    case 'double':
      return void expect(typeof v, path).toBe('number');
    case 'uint32':
    case 'enum': // the OTLP JSON encoding: enums as integers
      return void expect(Number.isInteger(v), path).toBe(true);
    case 'int64':
    case 'fixed64': // 64-bit integers as decimal strings
      return void expect(v, path).toMatch(/^-?\d+$/);
    case 'hex16': // ids as hex, not base64 (OTLP JSON encoding)
      return void expect(v, path).toMatch(/^[0-9a-f]{32}$/);
    case 'hex8':
      return void expect(v, path).toMatch(/^[0-9a-f]{16}$/);
  }
  const fields = FIELDS[type]!;
  expect(typeof v, path).toBe('object');
  for (const [k, x] of Object.entries(v as object)) {
    expect(Object.keys(fields), `${path}.${k} is not a field of ${type}`).toContain(k);
    validate(fields[k]!, x, `${path}.${k}`);
  }
  if (type === 'AnyValue') expect(Object.keys(v as object)).toHaveLength(1);
}

const base: HttpSpan = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: '00f067aa0ba902b7',
  parentSpanId: 'b7ad6b7169203331',
  startMs: 1_700_000_000_123.4567,
  endMs: 1_700_000_000_150.5,
  method: 'GET',
  target: '/api/items?q=2',
  authority: 'shop.example:8080',
  scheme: 'http',
  protocol: 'HTTP/1.1',
  status: 200,
  responseFlags: '-',
  upstreamCluster: 'outbound|80||echo.web.svc.cluster.local',
  upstreamAddress: '10.0.0.1:8080',
  clientAddress: '192.0.2.7',
  userAgent: 'curl/8',
  requestBytes: 0,
  responseBytes: 120,
  attempts: 1,
};

const attrs = (s: ReturnType<typeof httpSpanToOtlp>) => Object.fromEntries(s.attributes.map((a) => [a.key, Object.values(a.value)[0]]));

describe('OTLP/HTTP JSON', () => {
  it('writes epoch nanoseconds as decimal strings', () => {
    expect(unixNanoString(1_700_000_000_123)).toBe('1700000000123000000');
    expect(unixNanoString(1_700_000_000_123.5)).toBe('1700000000123500000');
    expect(unixNanoString(1_700_000_000_123.9999999)).toBe('1700000000124000000');
    expect(unixNanoString(0)).toBe('0');
  });

  it("maps a request to a SERVER span named <authority><path>, with HTTP semantic conventions and Envoy's tags", () => {
    const s = httpSpanToOtlp(base);
    expect(s).toMatchObject({ traceId: base.traceId, spanId: base.spanId, parentSpanId: base.parentSpanId, name: 'shop.example:8080/api/items', kind: SpanKind.SERVER, status: {} });
    // epoch milliseconds in a double keep about a quarter of a microsecond
    expect(Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano))).toBeCloseTo(27_043_300, -3);
    expect(attrs(s)).toEqual({
      'http.request.method': 'GET',
      'url.path': '/api/items',
      'url.scheme': 'http',
      'server.address': 'shop.example',
      'server.port': '8080',
      'network.protocol.version': '1.1',
      'http.response.status_code': '200',
      'client.address': '192.0.2.7',
      'user_agent.original': 'curl/8',
      upstream_cluster: 'outbound|80||echo.web.svc.cluster.local',
      upstream_address: '10.0.0.1:8080',
      response_flags: '-',
      'http.request.body.size': '0',
      'http.response.body.size': '120',
    });
  });

  it('marks 5xx and no response as ERROR, not 4xx; a root span has no parentSpanId', () => {
    const e = httpSpanToOtlp({ ...base, status: 503, responseFlags: 'UF', parentSpanId: undefined, attempts: 3 });
    expect(e.status).toEqual({ code: StatusCode.ERROR, message: 'UF' });
    expect('parentSpanId' in e).toBe(false);
    expect(attrs(e)['http.request.resend_count']).toBe('2');
    expect(httpSpanToOtlp({ ...base, status: 0, responseFlags: 'DC' }).status.code).toBe(StatusCode.ERROR);
    expect(httpSpanToOtlp({ ...base, status: 404, responseFlags: 'NR' }).status).toEqual({});
    expect(attrs(httpSpanToOtlp({ ...base, authority: '[::1]:80', protocol: 'HTTP/2' }))).toMatchObject({ 'server.address': '[::1]', 'server.port': '80', 'network.protocol.version': '2' });
    expect(attrs(httpSpanToOtlp({ ...base, authority: 'example.com' }))['server.port']).toBeUndefined();
  });

  it('builds an ExportTraceServiceRequest with only OTLP field names and JSON types', () => {
    const req = traceExportRequest({ 'service.name': 'public.web' }, { name: 'weft', version: '0.1.0' }, [httpSpanToOtlp(base), httpSpanToOtlp({ ...base, status: 500, parentSpanId: undefined })]);
    const json = JSON.parse(JSON.stringify(req));
    validate('ExportTraceServiceRequest', json, '$');
    expect(json.resourceSpans[0].resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'public.web' } }]);
    expect(json.resourceSpans[0].scopeSpans[0].spans).toHaveLength(2);
  });
});
