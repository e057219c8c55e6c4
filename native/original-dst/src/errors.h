/* Errors thrown to JS with the errno name as `code`, shared by the addon's source files. */
#ifndef WEFT_ERRORS_H
#define WEFT_ERRORS_H
#include <node_api.h>

/* Throws Error(`${what}: ${strerror(err)}`) with code = the errno name; returns NULL. */
napi_value weft_throw_errno(napi_env env, int err, const char *what);

/* netns_socket.c: openNetns, closeNetns, socketInNetns, socketMark */
void weft_register_netns(napi_env env, napi_value exports);

/* malloc_tune.c: mallocTune, mallocTrim */
void weft_register_malloc(napi_env env, napi_value exports);

/* page_out.c: pageOutFiles */
void weft_register_page_out(napi_env env, napi_value exports);
#endif
