# Everything the flake exposes for one package set, derived from ./variants.json: the variants
# available on this system, their ort-wrapper packages, apps, checks and development shells.
# Used by the overlay (`pkgs.ortBuilder`) and by `lib.mkOnnxruntime` and
# `lib.mkReducedOnnxruntime`.
{ pkgs }:
let
  inherit (pkgs) lib;
  matrix = import ./matrix.nix { inherit lib; };
  inherit (pkgs.stdenv) hostPlatform;
  variants = matrix.variantsFor hostPlatform.system;
  defaultVariant = if hostPlatform.isDarwin then "coreml" else "cpu";

  # nixpkgs marks its CUDA redistributables broken unless config.cudaSupport (cuda-modules'
  # buildRedist: "CUDA support is enabled by config.cudaSupport"), so a CUDA variant takes its
  # inputs from nixpkgs' pkgsCuda (the same package set, overlays included, with cudaSupport on)
  # unless the package set it was given has cudaSupport already. The other variants use `pkgs`
  # as given: cudaSupport changes what many nixpkgs packages build.
  pkgsFor =
    variantName:
    if !(matrix.usesCuda variantName) || (pkgs.config.cudaSupport or false) then
      pkgs
    else
      pkgs.pkgsCuda or (throw (
        "onnxruntime-builder: the ${variantName} variant needs nixpkgs' CUDA packages with "
        + "config.cudaSupport = true (nixpkgs marks them broken otherwise), and this nixpkgs has no "
        + "pkgsCuda to take them from: import it with config.cudaSupport = true"
      ));
  depsFor = variantName: (pkgsFor variantName).callPackage ./deps.nix { };
  # The lean ort-wrapper the ORT derivations run (finalize, bundle): no ONNX Runtime, no ONNX.
  ortWrapperTool = pkgs.callPackage ./ort-wrapper.nix { buildTool = true; };

  # ONNX Runtime built for one variant of the matrix; with an operator config, reduced to it.
  buildVariant =
    variantName: operatorsConfig:
    (pkgsFor variantName).callPackage ./onnxruntime.nix {
      inherit
        matrix
        ortWrapperTool
        variantName
        operatorsConfig
        ;
      deps = depsFor variantName;
    };

  # The variant constructor: one variant of the matrix as a distribution.
  mkOnnxruntime =
    variantName:
    let
      built = buildVariant variantName null;
    in
    if matrix.variants.${variantName}.linkMode == "shared" then
      (pkgsFor variantName).callPackage ./bundle.nix {
        inherit matrix ortWrapperTool;
        deps = depsFor variantName;
        unbundled = built;
      }
    else
      built;

  # A static variant reduced to the operators of a set of models (or of an operator config).
  mkReducedOnnxruntime = import ./reduced.nix {
    inherit lib matrix mkOnnxruntime buildVariant wrapperFor;
    inherit (pkgs) runCommandCC;
  };

  # The ort-wrapper package whose commands default to a distribution.
  wrapperFor = dist: pkgs.callPackage ./ort-wrapper.nix { inherit dist; };

  dists = lib.mapAttrs (name: _: mkOnnxruntime name) variants;
  wrappers = lib.mapAttrs (_: wrapperFor) dists;
  harness = lib.mapAttrs (
    name: wrapper:
    pkgs.callPackage ./harness.nix {
      inherit wrapper;
      appName = matrix.wrapperName name;
      linkingOnly = matrix.needsGpu name;
    }
  ) wrappers;
  stable = lib.filterAttrs (_: v: !v.experimental) variants;
  shells = lib.mapAttrs (
    name: v:
    pkgs.callPackage ./shells.nix {
      dist = dists.${name};
      inherit (v) linkMode;
    }
  ) stable;
in
{
  inherit matrix mkOnnxruntime mkReducedOnnxruntime;

  packages =
    lib.mapAttrs' (name: lib.nameValuePair (matrix.packageName name)) dists
    // lib.mapAttrs' (name: lib.nameValuePair (matrix.wrapperName name)) wrappers
    // {
      default = dists.${defaultVariant};
    };

  apps = lib.mapAttrs' (name: h: lib.nameValuePair (matrix.wrapperName name) h.app) harness;

  # The harness against every non-experimental variant this system builds (for a variant that
  # needs a GPU, its linking section only: a build sandbox has no GPU).
  checks = lib.mapAttrs' (name: _: lib.nameValuePair "harness-${name}" harness.${name}.check) stable;

  devShells = shells // {
    default = shells.${defaultVariant};
  };
}
