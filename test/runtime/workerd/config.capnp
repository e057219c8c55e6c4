# workerd config for the runtime harness (harness.ts fills in the placeholders at test time and
# writes this file beside the bundled worker in a temp directory). No compatibility flags:
# nodejs_compat stays off, because core/ must not need it.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .scenarioWorker) ],
  sockets = [ (name = "http", address = "@ADDRESS@", http = (), service = "main") ],
);

const scenarioWorker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "@COMPAT_DATE@",
);
