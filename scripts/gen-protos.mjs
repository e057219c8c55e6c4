// Generates static protobuf modules with pbjs/pbts (protobufjs-cli) at build time, so no .proto is
// loaded and no code is generated at run time (workerd forbids `new Function`; design.md 4 and 8).
// Each target is regenerated only when one of its inputs is newer than its output.
//
// A target with `keep` is pruned first: the entry files are loaded with protobufjs reflection (here,
// at build time only), every type not reachable from the `keep` messages is dropped, and pbjs reads
// the pruned set as JSON. The Envoy entry files pull in ~3,000 types; Weft needs ~400 of them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stat, mkdir, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { lazyMessageTypes } from './lazy-protos.mjs';
import { transform } from 'esbuild';

const run = promisify(execFile);
const ENVOY_DEPS = 'node_modules/@grpc/grpc-js-xds/deps';

/** Include roots: Weft's own protos, then the protos shipped inside @grpc/grpc-js-xds. */
export const PROTO_INCLUDES = [
  'proto',
  `${ENVOY_DEPS}/envoy-api`,
  `${ENVOY_DEPS}/xds`,
  `${ENVOY_DEPS}/googleapis`,
  `${ENVOY_DEPS}/protoc-gen-validate`,
  'node_modules/protobufjs',
];

/**
 * out: the generated ES module (a .d.ts is written beside it); files: entry protos, resolved
 * against PROTO_INCLUDES; root: the protobuf.roots name (distinct per module, so two modules that
 * both define google.protobuf never overwrite each other's namespaces in one bundle); keep: prune
 * to the types reachable from these messages; convert: false drops fromObject/toObject.
 */
/**
 * The workload API, MeshConfig, the discovery envelope and the plugin bindings (ECDS
 * TypedExtensionConfig holding a TypedStruct, core/xds/plugins.ts): all a node proxy decodes (both
 * modules hold them).
 */
const WORKLOAD_FILES = [
      'istio/workload/workload.proto',
      'istio/workload/authorization.proto',
      'istio/mesh/v1alpha1/config.proto',
      'envoy/service/discovery/v3/discovery.proto',
      'envoy/config/core/v3/extension.proto',
      'xds/type/v3/typed_struct.proto',
];
const WORKLOAD_KEEP = [
      'istio.workload.Address',
      'istio.security.Authorization',
      'istio.mesh.v1alpha1.MeshConfig',
      'envoy.service.discovery.v3.DiscoveryRequest',
      'envoy.service.discovery.v3.DiscoveryResponse',
      'envoy.service.discovery.v3.DeltaDiscoveryRequest',
      'envoy.service.discovery.v3.DeltaDiscoveryResponse',
      'envoy.service.discovery.v3.Resource',
      'envoy.config.core.v3.TypedExtensionConfig',
      'xds.type.v3.TypedStruct',
];

export const PROTO_TARGETS = [
  {
    out: 'hosts/node/generated/ca-pb.js',
    files: ['istio/ca/ca.proto'],
  },
  {
    // What a node proxy decodes and encodes, and nothing else (a fraction of xds-pb.js, which the
    // node proxy would otherwise load whole: ~4 MB of heap and code): the workload API, MeshConfig
    // and the discovery envelope. Its own root, so its google.protobuf is not xds-pb.js's.
    out: 'core/xds/generated/workload-pb.js',
    root: 'weft-workload',
    convert: false,
    files: [
      ...WORKLOAD_FILES,
      'google/rpc/status.proto',
    ],
    keep: [
      ...WORKLOAD_KEEP,
      'google.protobuf.Any',
      'google.protobuf.Struct',
      'google.rpc.Status',
    ],
  },
  {
    // Everything the xDS server and clients encode and decode: the discovery messages, the Envoy
    // resources proxyless gRPC and L7 proxies read, and Istio's workload API.
    out: 'core/xds/generated/xds-pb.js',
    root: 'weft-xds',
    convert: false,
    // Field tables for proto3 JSON (core/xds/rest-json.ts: the edge host's REST xDS), as data.
    descriptor: 'core/xds/generated/xds-descriptor.js',
    files: [
      ...WORKLOAD_FILES,
      'envoy/config/listener/v3/listener.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/transport_sockets/tls/v3/secret.proto',
      'envoy/extensions/transport_sockets/tls/v3/tls.proto',
      'envoy/extensions/filters/http/fault/v3/fault.proto',
      'envoy/extensions/filters/http/cors/v3/cors.proto',
      'envoy/extensions/filters/http/rbac/v3/rbac.proto',
      'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
      'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
      'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
      'google/rpc/status.proto',
    ],
    keep: [
      ...WORKLOAD_KEEP,
      'envoy.config.listener.v3.Listener',
      'envoy.config.route.v3.RouteConfiguration',
      'envoy.config.cluster.v3.Cluster',
      'envoy.config.endpoint.v3.ClusterLoadAssignment',
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.filters.http.router.v3.Router',
      'envoy.extensions.transport_sockets.tls.v3.Secret',
      // L7 (core/route/README.md): TLS contexts, per-route filter configs, upstream HTTP/2.
      'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      'envoy.extensions.filters.http.fault.v3.HTTPFault',
      'envoy.extensions.filters.http.cors.v3.Cors',
      'envoy.extensions.filters.http.cors.v3.CorsPolicy',
      'envoy.extensions.filters.http.rbac.v3.RBAC',
      'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
      // AuthorizationPolicy / RequestAuthentication at L7 (core/xds/l7/authz*.ts, core/policy/l7-*.ts).
      'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      'envoy.config.route.v3.FilterConfig',
      'google.protobuf.Any',
      'google.protobuf.Struct',
      'google.protobuf.Duration',
      'google.protobuf.Empty',
      'google.protobuf.BoolValue',
      'google.protobuf.UInt32Value',
      'google.protobuf.UInt64Value',
      'google.protobuf.Int64Value',
      'google.protobuf.StringValue',
      'google.protobuf.DoubleValue',
      'google.rpc.Status',
    ],
  },
];

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

async function resolveInput(file) {
  // pbjs carries the well-known types itself.
  if (file.startsWith('google/protobuf/')) return 'scripts/gen-protos.mjs';
  for (const root of PROTO_INCLUDES) {
    if (await mtime(`${root}/${file}`)) return `${root}/${file}`;
  }
  throw new Error(`proto not found in include roots: ${file}`);
}

/**
 * The pruned set as data for proto3 JSON conversion (core/xds/json-descriptor.ts reads it): per
 * message its fields as [property, jsonName, type, flags, mapKeyType?] (type: a scalar name or a
 * full type name; flags: 1 repeated, 2 map, 4 has presence), per enum its values by name. A plain
 * object, so converting needs no reflection and no generated code at run time.
 */
function descriptorOf(root, protobuf) {
  const messages = {};
  const enums = {};
  const jsonName = (name) => name.replace(/_+(.)/g, (_, c) => c.toUpperCase()).replace(/_+$/, '');
  const walk = (ns) => {
    for (const child of ns.nestedArray ?? []) {
      const full = child.fullName.slice(1);
      if (child instanceof protobuf.Type) {
        messages[full] = child.fieldsArray.map((f) => {
          const prop = protobuf.util.camelCase(f.name);
          const type = f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type;
          const presence = f.partOf || f.options?.proto3_optional ? 4 : 0;
          const flags = (f.repeated ? 1 : 0) | (f.map ? 2 : 0) | presence;
          const row = [prop, f.options?.json_name ?? jsonName(f.protoName ?? f.name), type, flags];
          if (f.map) row.push(f.keyType);
          return row;
        });
      } else if (child instanceof protobuf.Enum) {
        enums[full] = { ...child.values };
      }
      if (child.nestedArray) walk(child);
    }
  };
  walk(root);
  return { messages, enums };
}

/** Loads the entry files, drops every type the `keep` messages do not reach, returns JSON. */
async function prunedJson(target) {
  const { default: protobuf } = await import('protobufjs');
  const root = new protobuf.Root();
  root.resolvePath = (_origin, file) => {
    for (const inc of PROTO_INCLUDES) {
      const p = resolve(inc, file);
      if (existsSync(p)) return p;
    }
    return file;
  };
  root.loadSync(target.files, { keepCase: false });
  root.resolveAll();
  const reached = new Set();
  const visit = (type) => {
    if (reached.has(type)) return;
    reached.add(type);
    if (type instanceof protobuf.Type) for (const f of type.fieldsArray) if (f.resolvedType) visit(f.resolvedType);
  };
  for (const name of target.keep) {
    const t = root.lookup(name);
    if (!t) throw new Error(`${target.out}: keep names an unknown type ${name}`);
    visit(t);
  }
  const keepsDescendant = (t) => (t.nestedArray ?? []).some((c) => reached.has(c) || keepsDescendant(c));
  const prune = (ns) => {
    for (const child of [...(ns.nestedArray ?? [])]) {
      if (child instanceof protobuf.Type || child instanceof protobuf.Enum) {
        if (!reached.has(child) && !keepsDescendant(child)) ns.remove(child);
        else if (child.nestedArray) prune(child);
      } else if (child instanceof protobuf.Service || child instanceof protobuf.Field) {
        // Services are not generated; top-level fields are option extensions (validate, udpa).
        ns.remove(child);
      } else if (child instanceof protobuf.Namespace) {
        prune(child);
        if (!child.nestedArray.length) ns.remove(child);
      }
    }
  };
  prune(root);
  if (target.descriptor) {
    const data = JSON.stringify(descriptorOf(root, protobuf));
    await writeFile(target.descriptor, `// Generated by scripts/gen-protos.mjs: field tables for proto3 JSON. Do not edit.\nexport default ${data};\n`);
    await writeFile(target.descriptor.replace(/\.js$/, '.d.ts'), `declare const descriptor: { messages: Record<string, Array<[string, string, string, number, string?]>>; enums: Record<string, Record<string, number>> };\nexport default descriptor;\n`);
  }
  // protobufjs's bundled well-known types keep snake_case (google.protobuf.Any's type_url) while the
  // loaded files are camelCased: make every field camelCase so one module has one convention.
  const json = root.toJSON();
  const camel = (obj) => {
    if (obj.fields) {
      obj.fields = Object.fromEntries(Object.entries(obj.fields).map(([k, v]) => [protobuf.util.camelCase(k), v]));
    }
    if (obj.oneofs) {
      for (const o of Object.values(obj.oneofs)) o.oneof = o.oneof.map((k) => protobuf.util.camelCase(k));
    }
    for (const child of Object.values(obj.nested ?? {})) camel(child);
  };
  camel(json);
  return JSON.stringify(json);
}

/**
 * The module as it is loaded: message types built on first access (lazy-protos.mjs), and local names
 * shortened (`message`, `writer`, `reader`, ... thousands of times: xds-pb.js's source text, which V8
 * keeps in every process that loads it, 1.41 -> 1.00 MB once the bundle's whitespace goes). Exports and
 * property names stay; the .d.ts comes from pbjs's own output.
 */
async function compact(code) {
  const header = '// Generated by scripts/gen-protos.mjs (pbjs static module, then lazy-protos.mjs and esbuild minifyIdentifiers). Do not edit.\n';
  const { code: out } = await transform(lazyMessageTypes(code), { format: 'esm', minifyIdentifiers: true, legalComments: 'none' });
  return header + out;
}

async function generate(target) {
  const staticArgs = ['-t', 'static-module', '-w', 'es6', '--no-verify', '--no-delimited', '--no-service', '--force-number'];
  if (target.root) staticArgs.push('-r', target.root);
  if (target.convert === false) staticArgs.push('--no-convert', '--no-create', '--no-typeurl');
  const dts = target.out.replace(/\.js$/, '.d.ts');
  if (!target.keep) {
    const includeArgs = PROTO_INCLUDES.flatMap((p) => ['-p', p]);
    await run('npx', ['pbjs', ...staticArgs, ...includeArgs, '-o', target.out, ...target.files]);
    await run('npx', ['pbts', '--no-comments', '-o', dts, target.out]);
    await writeFile(target.out, await compact(await readFile(target.out, 'utf8')));
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'weft-protos-'));
  try {
    const json = join(dir, 'pruned.json');
    await writeFile(json, await prunedJson(target));
    // pbts reads the JSDoc of the generated code, so types come from a commented copy and the
    // module itself is generated without comments (a third of the size).
    const commented = join(dir, 'commented.js');
    await run('npx', ['pbjs', ...staticArgs, '-o', commented, json]);
    await run('npx', ['pbts', '--no-comments', '-o', dts, commented], { maxBuffer: 64 << 20 });
    await run('npx', ['pbjs', ...staticArgs, '--no-comments', '-o', target.out, json]);
    await writeFile(target.out, await compact(await readFile(target.out, 'utf8')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function generateProtos({ force = false } = {}) {
  for (const target of PROTO_TARGETS) {
    const inputs = await Promise.all(target.files.map(resolveInput));
    const newest = Math.max(...(await Promise.all(inputs.map(mtime))), await mtime('scripts/gen-protos.mjs'));
    if (!force && (await mtime(target.out)) > newest && (await mtime(target.out.replace(/\.js$/, '.d.ts'))) && (!target.descriptor || (await mtime(target.descriptor)) > newest)) continue;
    await mkdir(dirname(target.out), { recursive: true });
    await generate(target);
    console.log(`generated ${target.out}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await generateProtos({ force: process.argv.includes('--force') });
