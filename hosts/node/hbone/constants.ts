/**
 * HBONE's fixed numbers, as ztunnel uses them (src/config.rs): port 15008, ALPN h2, HTTP/2 windows
 * of 4 MiB per stream and 16 MiB per connection, 1 MiB frames, 100 streams per pooled connection,
 * pooled connections released after 5 minutes unused. With Node's 64 KiB default windows a stream
 * tops out near 155 MB/s on loopback; both the SETTINGS value (per stream) and
 * `session.setLocalWindowSize()` (per connection) must be set.
 */
export const HBONE_PORT = 15008;
export const HBONE_ALPN = 'h2';
export const STREAM_WINDOW = 4 * 1024 * 1024;
export const CONNECTION_WINDOW = 16 * 1024 * 1024;
export const MAX_FRAME_SIZE = 1024 * 1024;
/** What the client puts on one connection (ztunnel POOL_MAX_STREAMS_PER_CONNECTION). */
export const MAX_STREAMS_PER_CONNECTION = 100;
/** What the server accepts per connection (ztunnel's server, hyper's default). */
export const SERVER_MAX_CONCURRENT_STREAMS = 200;
/** ztunnel POOL_UNUSED_RELEASE_TIMEOUT. */
export const POOL_IDLE_TIMEOUT_MS = 5 * 60_000;
/** ztunnel: 64 KiB of request headers at most. */
export const MAX_HEADER_LIST_SIZE = 64 * 1024;
/** nghttp2 memory per session, MB: must hold a full connection window plus headroom. */
export const MAX_SESSION_MEMORY_MB = 64;
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * HTTP/2 PING keepalive on pooled client connections: a PING every 30 s, and a connection whose
 * PING is not answered within 10 s is taken for dead (a peer node gone without a FIN or RST, a
 * NAT that dropped the flow) and closed, so new streams dial again instead of hanging on it.
 */
export const KEEPALIVE_INTERVAL_MS = 30_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;

/**
 * TLS 1.3 suites, AES-128-GCM first. OpenSSL's (and Node's) default puts AES-256-GCM first; with
 * AES-NI the stitched AES-GCM routine is ~11% of each hop's CPU in a bulk transfer, and AES-128 runs
 * 10 rounds instead of 14. ztunnel accepts exactly TLS13_AES_256_GCM_SHA384 and
 * TLS13_AES_128_GCM_SHA256, so both stay on offer (ChaCha20 last, as before, for peers without AES).
 * Set on the workload contexts (the client, certs/workload-certificate.ts) and on the server, which
 * honours its own order so that a peer preferring AES-256 (rustls) still gets AES-128.
 */
export const HBONE_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** Settings both ends send. */
export const H2_SETTINGS = {
  initialWindowSize: STREAM_WINDOW,
  maxFrameSize: MAX_FRAME_SIZE,
  maxHeaderListSize: MAX_HEADER_LIST_SIZE,
  enablePush: false,
} as const;
