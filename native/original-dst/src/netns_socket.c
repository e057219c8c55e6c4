/*
 * Sockets made inside another network namespace (ztunnel's in-pod model): the node proxy passes a
 * captured pod's connection through to a destination outside the mesh from inside the pod's own
 * namespace, so the destination sees the pod's IP, as it would without a mesh.
 *
 *   openNetns(path) -> fd          a network namespace file (/run/netns/X, /proc/PID/ns/net), O_CLOEXEC;
 *                                  the caller keeps it while the pod is enrolled (no path lookup per
 *                                  connection, and a namespace deleted meanwhile stays valid until closed)
 *   closeNetns(fd)                 closes it
 *   socketInNetns(nsFd, family, mark) -> fd
 *                                  setns(nsFd) on the calling thread, socket(AF_INET|AF_INET6,
 *                                  SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC), SO_MARK = mark (0: none),
 *                                  setns back to the namespace this thread had when the addon loaded.
 *                                  A socket belongs to the namespace it was created in, whichever
 *                                  thread later binds or connects it; so only creation happens there,
 *                                  and connect() is Node's own (net.Socket({ fd }).connect()).
 *
 * setns(CLONE_NEWNET) changes only the calling thread's namespace (allowed in a multi-threaded
 * process), and nothing else runs on the JS thread during this synchronous call. If the thread cannot
 * return to its own namespace (it just left it with the same privileges, so this cannot happen short
 * of a kernel failure), the process aborts: serving every later connection from a pod's namespace
 * would be far worse. Errors are thrown with the errno name as `code` (EPERM, ENOENT, EINVAL, ...).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"

#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE 0xb703 /* _IO(0xb7, 0x3), <linux/nsfs.h>, Linux 4.11 */
#endif

/* This thread's own namespace, opened once at load (the JS thread loads the addon). */
static int home_netns = -1;
static int home_errno = 0;

static int get_int_arg(napi_env env, napi_value v, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value open_netns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1) {
    napi_throw_type_error(env, "EINVAL", "openNetns(path): path must be a non-empty string");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return weft_throw_errno(env, errno, path);
  /* Refuse a file that is not a network namespace now, not at the first connection. A file that is
   * no namespace at all answers ENOTTY; so does every namespace on a kernel before 4.11 (no
   * NS_GET_NSTYPE), where passthrough then falls back to the node's namespace, with a warning. */
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    int err = type < 0 && errno != ENOTTY ? errno : EINVAL;
    close(fd);
    char msg[4200];
    snprintf(msg, sizeof msg, "%s is not a network namespace", path);
    return weft_throw_errno(env, err, msg);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value close_netns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !get_int_arg(env, argv[0], &fd) || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "closeNetns(fd): fd must be a non-negative integer");
    return NULL;
  }
  if (fd == home_netns) {
    napi_throw_error(env, "EINVAL", "closeNetns: not a descriptor from openNetns");
    return NULL;
  }
  close(fd);
  return NULL;
}

static napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t ns = -1, family = 4, mark = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !get_int_arg(env, argv[0], &ns) || ns < 0 ||
      (argc > 1 && !get_int_arg(env, argv[1], &family)) || (argc > 2 && !get_int_arg(env, argv[2], &mark)) ||
      (family != 4 && family != 6)) {
    napi_throw_type_error(env, "EINVAL", "socketInNetns(nsFd, family 4|6, mark): bad arguments");
    return NULL;
  }
  if (home_netns < 0) return weft_throw_errno(env, home_errno ? home_errno : EBADF, "this thread's own network namespace could not be opened at load");
  if (ns == home_netns) {
    napi_throw_error(env, "EINVAL", "socketInNetns: not a descriptor from openNetns");
    return NULL;
  }
  if (setns(ns, CLONE_NEWNET) != 0) return weft_throw_errno(env, errno, "setns(pod netns)");
  int err = 0;
  const char *what = NULL;
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    what = "socket";
  } else if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    err = errno;
    what = "setsockopt(SO_MARK)";
    close(fd);
    fd = -1;
  }
  if (setns(home_netns, CLONE_NEWNET) != 0 && setns(home_netns, CLONE_NEWNET) != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "socketInNetns: cannot return to the node's network namespace: %s", strerror(errno));
    napi_fatal_error("weft original_dst.node", NAPI_AUTO_LENGTH, msg, NAPI_AUTO_LENGTH);
  }
  if (fd < 0) return weft_throw_errno(env, err, what);
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/* Tests: the mark a socket carries (SO_MARK); Node has no getsockopt. */
static napi_value socket_mark(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !get_int_arg(env, argv[0], &fd) || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "socketMark(fd): fd must be a non-negative integer");
    return NULL;
  }
  int mark = 0;
  socklen_t len = sizeof mark;
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) != 0) return weft_throw_errno(env, errno, "getsockopt(SO_MARK)");
  napi_value result;
  napi_create_uint32(env, (uint32_t)mark, &result);
  return result;
}

void weft_register_netns(napi_env env, napi_value exports) {
  if (home_netns < 0) {
    home_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_netns < 0) home_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_netns < 0) home_errno = errno;
  }
  static const struct { const char *name; napi_callback cb; } fns[] = {
    { "openNetns", open_netns },
    { "closeNetns", close_netns },
    { "socketInNetns", socket_in_netns },
    { "socketMark", socket_mark },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
}
