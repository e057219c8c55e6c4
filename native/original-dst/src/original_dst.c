/*
 * original_dst.node: originalDst(fd) -> "ip:port" (IPv6 as "[ip]:port"); and, in netns_socket.c, sockets
 * made inside a pod's network namespace (openNetns, closeNetns, socketInNetns, socketMark); in
 * malloc_tune.c, glibc's mallopt for bulk transfers (mallocTune).
 *
 * A connection REDIRECTed by iptables (nat OUTPUT or PREROUTING) arrives at the proxy's listener with
 * its destination rewritten; conntrack still knows the original one, and the kernel reports it through
 * getsockopt(SOL_IP, SO_ORIGINAL_DST) (IPv4) or getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST) (IPv6).
 * Node exposes no getsockopt, hence this addon. Errors are thrown with the errno name as `code`
 * (ENOENT: the socket was not redirected / has no conntrack entry; EBADF: not an open descriptor).
 */
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "errors.h"

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which clash with glibc's headers. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static const char *errno_name(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOTDIR: return "ENOTDIR";
    default: return "EIO";
  }
}

napi_value weft_throw_errno(napi_env env, int err, const char *what) {
  char msg[4400];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, errno_name(err), msg);
  return NULL;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }

  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return weft_throw_errno(env, errno, "getsockname");

  struct sockaddr_storage dst;
  memset(&dst, 0, sizeof dst);
  len = sizeof dst;
  int rc;
  if (local.ss_family == AF_INET6) {
    rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len);
    /* An IPv4 connection accepted on a dual-stack (::) listener is tracked by the IPv4 table. */
    if (rc != 0) {
      len = sizeof(struct sockaddr_in);
      rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len);
    }
  } else if (local.ss_family == AF_INET) {
    rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len);
  } else {
    return weft_throw_errno(env, EINVAL, "originalDst: not a TCP/IP socket");
  }
  if (rc != 0) return weft_throw_errno(env, errno, "getsockopt(SO_ORIGINAL_DST)");

  char ip[INET6_ADDRSTRLEN];
  char out[INET6_ADDRSTRLEN + 10];
  if (dst.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&dst;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, sizeof out, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else if (dst.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(out, sizeof out, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else {
    return weft_throw_errno(env, EINVAL, "getsockopt(SO_ORIGINAL_DST) returned an unknown address family");
  }
  napi_value result;
  napi_create_string_utf8(env, out, NAPI_AUTO_LENGTH, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  weft_register_netns(env, exports);
  weft_register_malloc(env, exports);
  weft_register_page_out(env, exports);
  return exports;
}
