/*
 * pageOutFiles() -> number: asks the kernel (madvise MADV_PAGEOUT, Linux 5.4+) to reclaim the
 * resident pages of this process's read-only file mappings: the node binary's text and read-only
 * data, shared libraries, the addon. After start-up most of them are cold: Node touches ~40 MB of
 * its binary while it boots (V8's snapshot deserialiser, ICU tables, OpenSSL's init, every builtin
 * module's code), and an idle `weft up` counts them all in its RSS although the data path uses a
 * fraction. The pages are clean and backed by their file, so nothing is lost: a page used again is
 * faulted back in from the page cache or the disk; what the proxy runs stays resident, what it ran
 * once goes. The kernel skips pages other processes map too (a page shared with another node
 * process stays). Writable mappings (.data, .bss) and anonymous memory are left alone: without swap
 * the kernel could not reclaim them anyway.
 *
 * Returns the bytes of mappings advised (not the bytes freed: the kernel does not say), 0 where
 * /proc/self/maps cannot be read, -1 where the kernel refuses the advice (older than 5.4).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static napi_value page_out_files(napi_env env, napi_callback_info info) {
  (void)info;
  double advised = 0;
  FILE *maps = fopen("/proc/self/maps", "re");
  if (maps != NULL) {
    char line[4096];
    while (fgets(line, sizeof line, maps) != NULL) {
      unsigned long start, end;
      char perms[8];
      int path_at = 0;
      if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) continue;
      // a file mapping's path starts with '/'; [heap], [stack], [vdso] and anonymous ones do not
      if (path_at <= 0 || line[path_at] != '/') continue;
      if (perms[0] != 'r' || perms[1] == 'w') continue;
      if (madvise((void *)start, end - start, MADV_PAGEOUT) != 0) {
        advised = -1;
        break;
      }
      advised += (double)(end - start);
    }
    fclose(maps);
  }
  napi_value result;
  napi_create_double(env, advised, &result);
  return result;
}

void weft_register_page_out(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "pageOutFiles", NAPI_AUTO_LENGTH, page_out_files, NULL, &fn);
  napi_set_named_property(env, exports, "pageOutFiles", fn);
}
