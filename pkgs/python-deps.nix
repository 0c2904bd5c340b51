# The Python packages ort-wrapper uses (python/pyproject.toml), in one place for the package
# (./ort-wrapper.nix) and the development shells (./shells.nix).
{ lib, stdenv }:
ps: rec {
  # What the build steps run (`ort-wrapper finalize` and `bundle`): ELF reading and
  # rewriting. auditwheel is Linux-only in nixpkgs (meta.platforms = linux), as is ELF work.
  tool = [
    ps.numpy
    ps.pyelftools
  ]
  ++ lib.optionals stdenv.hostPlatform.isLinux [ ps.auditwheel ];
  # Everything else: loading and running ONNX Runtime.
  runtime = tool ++ [ ps.onnxruntime ];
  # The `check` extra: the harness's conformance data and models.
  check = [
    ps.onnx
    ps.ml-dtypes
  ];
}
