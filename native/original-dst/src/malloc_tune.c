/*
 * mallocTune(trimThreshold, topPad, mmapThreshold) -> boolean: glibc's mallopt, for the node proxy's
 * bulk transfers. With glibc's defaults (dynamic mmap threshold, trim threshold twice it), the
 * buffers TLS and HTTP/2 allocate and free per record make the heap top grow and shrink all the
 * time: 543 brk calls in 768 MB on the receiving proxy, each shrink handing pages back that the next
 * grow faults in zeroed again. Measured on the L4 bench: about 40% of that hop's CPU per GB. The same
 * settings as MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ / MALLOC_MMAP_THRESHOLD_, applied at run
 * time, so the proxy can switch to them only once it carries bulk traffic (they keep about 1 MB
 * more resident). A value <= 0 leaves that setting alone. false where the C library is not glibc.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "errors.h"

static napi_value malloc_tune(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t v[3] = {0, 0, 0};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < argc && i < 3; i++) {
    if (napi_get_value_int32(env, argv[i], &v[i]) != napi_ok) v[i] = 0;
  }
  int ok = 0;
#ifdef __GLIBC__
  ok = 1;
  if (v[0] > 0) ok &= mallopt(M_TRIM_THRESHOLD, v[0]) == 1;
  if (v[1] > 0) ok &= mallopt(M_TOP_PAD, v[1]) == 1;
  if (v[2] > 0) ok &= mallopt(M_MMAP_THRESHOLD, v[2]) == 1;
#endif
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

/*
 * mallocTrim() -> boolean: glibc's malloc_trim(0), which hands back free memory at the heap top and,
 * since glibc 2.8, the free pages inside every arena. After startup the heap holds what V8's
 * compiler zones and the config parse freed (an idle `weft up`: malloc heap 7.4 -> 4.4 MB, RSS
 * 78.5 -> 73.7 MB when trimmed by hand); glibc only trims the top on its own. true when memory was
 * released; false when none was, or the C library is not glibc.
 */
static napi_value malloc_trim_fn(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

void weft_register_malloc(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "mallocTune", NAPI_AUTO_LENGTH, malloc_tune, NULL, &fn);
  napi_set_named_property(env, exports, "mallocTune", fn);
  napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, malloc_trim_fn, NULL, &fn);
  napi_set_named_property(env, exports, "mallocTrim", fn);
}
