// Packs files into the single binary's asset archive (read back by hosts/node/binary/assets.ts):
// brotli( u32le index length | index JSON [{path, size, mode}] | the files' bytes, in index order ).
// Brotli with a 16 MB window: the built-ins share one QuickJS engine, so 26 MB of plugins (component,
// prepared glue, unmetered and metered core modules) pack into about 0.7 MB, unpacked in ~15 ms.
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

/** every file under `root` (sorted, so one input always packs to the same bytes) as `prefix/<relative path>` */
export async function collectFiles(root, prefix, filter = () => true) {
  const out = [];
  const walk = async (dir) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && filter(p)) out.push({ path: `${prefix}/${relative(root, p).split(sep).join('/')}`, file: p });
    }
  };
  await walk(root);
  return out;
}

/** [{path, file}] -> { archive: compressed bytes, id: 16 hex digits naming the content } */
export async function packAssets(entries) {
  const index = [];
  const parts = [];
  for (const { path, file } of entries) {
    if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`bad archive path ${path}`);
    const [bytes, st] = await Promise.all([readFile(file), stat(file)]);
    index.push({ path, size: bytes.length, mode: st.mode & 0o777 });
    parts.push(bytes);
  }
  const head = Buffer.from(JSON.stringify(index));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  const raw = Buffer.concat([len, head, ...parts]);
  const archive = brotliCompressSync(raw, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
  });
  return { archive, id: createHash('sha256').update(raw).digest('hex').slice(0, 16), files: index.length, rawBytes: raw.length };
}
