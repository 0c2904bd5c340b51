# A development shell for one variant: Python with ort_wrapper in editable mode (imports
# ./python of the checkout the shell was entered from), the variant's distribution in
# ORT_LIB_LOCATION / ORT_WRAPPER_DIST, and the build and packaging tools.
{
  lib,
  mkShell,
  python3,
  cmake,
  ninja,
  patchelf,
  auditwheel,
  ruff,
  dist,
}:
let
  pyproject = lib.importTOML ../python/pyproject.toml;
  editable = python3.pkgs.mkPythonEditablePackage {
    pname = pyproject.project.name;
    inherit (pyproject.project) version scripts;
    root = "$ORT_BUILDER_ROOT/python";
    dependencies = with python3.pkgs; [
      onnxruntime
      numpy
      pyelftools
      auditwheel
    ];
  };
in
mkShell {
  packages = [
    (python3.withPackages (ps: [
      editable
      ps.pytest
      ps.onnx
      ps.ml-dtypes
    ]))
    cmake
    ninja
    patchelf
    auditwheel
    ruff
  ];
  env = {
    ORT_WRAPPER_DIST = "${dist}";
    ORT_LIB_LOCATION = "${dist}";
  };
  shellHook = ''
    export ORT_BUILDER_ROOT="$PWD"
  '';
}
