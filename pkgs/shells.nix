# A development shell for one variant: Python with ort_wrapper in editable mode (imports
# ./python of the checkout the shell was entered from), the variant's distribution in the
# variables a consumer's build reads, with exactly the values `ort-wrapper env DIST` prints
# (python/ort_wrapper/consumers.py; tests/nix compares the two): ORT_WRAPPER_DIST (the root, as
# init() reads it), ORT_LIB_LOCATION (the folder holding the library, as the Rust `ort` crate
# reads it), ORT_PREFER_DYNAMIC_LINK and LD_LIBRARY_PATH for a shared variant, PKG_CONFIG_PATH
# (its libonnxruntime.pc) and CMAKE_PREFIX_PATH (its lib/cmake/onnxruntime package), so the
# consumers under examples/ and an unmodified `ort` crate build with no variable set by hand;
# and the build and packaging tools.
{
  lib,
  stdenv,
  mkShell,
  python3,
  cmake,
  ninja,
  pkg-config,
  patchelf,
  auditwheel,
  ruff,
  dist,
  linkMode,
}:
let
  pyproject = lib.importTOML ../python/pyproject.toml;
  pyDeps = import ./python-deps.nix { inherit lib stdenv; };
  editable = python3.pkgs.mkPythonEditablePackage {
    pname = pyproject.project.name;
    inherit (pyproject.project) version scripts;
    root = "$ORT_BUILDER_ROOT/python";
    dependencies = (pyDeps python3.pkgs).runtime;
  };
in
mkShell {
  packages = [
    (python3.withPackages (ps: [ editable ] ++ (pyDeps ps).check ++ [ ps.pytest ]))
    cmake
    ninja
    pkg-config
    patchelf
    ruff
  ]
  # auditwheel is Linux-only in nixpkgs (meta.platforms = linux).
  ++ lib.optionals stdenv.hostPlatform.isLinux [ auditwheel ];
  # finalize puts the core library (libonnxruntime.a, or libonnxruntime.so* for a shared
  # variant), lib/pkgconfig/libonnxruntime.pc and lib/cmake/onnxruntime/ under lib/ in every
  # distribution (bundles included).
  env = {
    ORT_WRAPPER_DIST = "${dist}";
    ORT_LIB_LOCATION = "${dist}/lib";
    PKG_CONFIG_PATH = "${dist}/lib/pkgconfig";
    CMAKE_PREFIX_PATH = "${dist}";
  }
  // lib.optionalAttrs (linkMode == "shared") {
    ORT_PREFER_DYNAMIC_LINK = "1";
    LD_LIBRARY_PATH = "${dist}/lib";
  };
  # The checkout's root, also when the shell is entered from a subdirectory: git's top level,
  # else the nearest directory upwards holding pkgs/variants.json, else the current one.
  shellHook = ''
    ORT_BUILDER_ROOT="$(git rev-parse --show-toplevel 2>/dev/null || true)"
    if [ -z "$ORT_BUILDER_ROOT" ] || [ ! -e "$ORT_BUILDER_ROOT/pkgs/variants.json" ]; then
      ORT_BUILDER_ROOT="$PWD"
      while [ "$ORT_BUILDER_ROOT" != / ] && [ ! -e "$ORT_BUILDER_ROOT/pkgs/variants.json" ]; do
        ORT_BUILDER_ROOT="$(dirname "$ORT_BUILDER_ROOT")"
      done
      [ -e "$ORT_BUILDER_ROOT/pkgs/variants.json" ] || ORT_BUILDER_ROOT="$PWD"
    fi
    export ORT_BUILDER_ROOT
  '';
}
