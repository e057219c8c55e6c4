# Builds original_dst.node (N-API, no V8 or Node ABI dependency beyond N-API 8).
{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["src/original_dst.c", "src/netns_socket.c", "src/malloc_tune.c", "src/page_out.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
