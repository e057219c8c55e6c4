# A workerd config for the Weft edge host (self-hosted workerd, no Cloudflare account).
# Build the worker bundle first (hosts/edge/README.md, "Deploying on workerd"): an entry that imports
# hosts/edge/entry/workerd.ts (and, for snapshot mode, snapshot.json and the prepared plugins),
# bundled by esbuild to worker.js beside this file. Then:
#   workerd serve config.capnp
# Fill in @ADDRESS@ (e.g. 0.0.0.0:8080), @CONTROL_URL@ and @TOKEN@ (or drop those bindings for a
# bundled snapshot), and list each prepared plugin core module under `modules` as
#   (name = "ab-router/p.core.wasm", wasm = embed "ab-router/p.core.wasm"),
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .weftEdge),
    # Outbound fetch to upstreams. workerd's default network refuses private and loopback
    # addresses; mesh endpoints usually are private, so allow them explicitly.
    (name = "net", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [ (name = "http", address = "@ADDRESS@", http = (), service = "main") ],
);

const weftEdge :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
  ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "net",
  bindings = [
    (name = "WEFT_CONTROL_URL", text = "@CONTROL_URL@"),
    (name = "WEFT_TOKEN", text = "@TOKEN@"),
    (name = "WEFT_LABELS", text = "istio=ingressgateway"),
    (name = "WEFT_POLL_MS", text = "5000"),
  ],
);
