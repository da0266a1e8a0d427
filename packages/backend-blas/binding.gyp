{
  "targets": [
    {
      "target_name": "mtl_blas",
      "sources": ["native/blas.c", "native/conv_direct.c"],
      "cflags": ["-O3", "-std=c11", "-D_GNU_SOURCE", "-pthread"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS=='mac'", {
          "include_dirs": ["<!@(brew --prefix openblas 2>/dev/null || echo /opt/homebrew/opt/openblas)/include"],
          "libraries": ["-L<!@(brew --prefix openblas 2>/dev/null || echo /opt/homebrew/opt/openblas)/lib", "-lopenblas"]
        }, {
          "include_dirs": ["/usr/include/openblas", "/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/aarch64-linux-gnu/openblas-pthread"],
          "libraries": ["-lopenblas"]
        }]
      ]
    }
  ]
}
