// Install script: builds original_dst.node with node-gyp against local Node headers when they exist
// (npm's `nodedir` setting, else the running node's own prefix, e.g. /usr/include/node), so a fresh
// machine without network access to nodejs.org still builds it; otherwise node-gyp downloads them.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const prefix = dirname(dirname(process.execPath));

function findGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp; // set by npm for scripts
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'); // npm's own copy
  }
}

const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : '');
const args = [findGyp(), 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, { cwd: __dirname, stdio: 'inherit' });
process.exit(r.status ?? 1);
