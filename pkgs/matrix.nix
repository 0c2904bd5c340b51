# The variant matrix (./variants.json, also read by Python's ort_wrapper.matrix) seen from Nix:
# the ORT source pin, each variant's CMake flags, platforms and patch series, and the names the
# flake gives each variant's outputs.
{ lib }:
let
  raw = lib.importJSON ./variants.json;

  toCmakeFlag =
    name: value:
    if builtins.isBool value then lib.cmakeBool name value else lib.cmakeFeature name value;
in
raw
// {
  # The source tag follows the version (one fact in variants.json, not two).
  ort = raw.ort // {
    tag = "v${raw.ort.version}";
  };

  # Every system some variant supports, in first-seen order.
  systems = builtins.foldl' (
    acc: system: if builtins.elem system acc then acc else acc ++ [ system ]
  ) [ ] (builtins.concatMap (v: v.platforms) (builtins.attrValues raw.variants));

  variantsFor = system: lib.filterAttrs (_: v: builtins.elem system v.platforms) raw.variants;

  # Common flags first, then the variant's own (a variant may override a common one).
  cmakeFlagsFor =
    name: lib.mapAttrsToList toCmakeFlag (raw.commonCmakeFlags // raw.variants.${name}.cmakeFlags);

  usesCuda = name: raw.variants.${name}.cmakeFlags.onnxruntime_USE_CUDA or false;
  usesCoreml = name: raw.variants.${name}.cmakeFlags.onnxruntime_USE_COREML or false;
  # A variant whose providers cannot run in a GPU-less build sandbox: its `checks` entry runs the
  # harness's linking section only (the app runs all of it on a machine with the GPU).
  needsGpu = name: raw.variants.${name}.cmakeFlags.onnxruntime_USE_CUDA or false;

  # A variant whose build also makes the `onnxruntime` Python module (finalize installs it).
  usesPython =
    name: (raw.commonCmakeFlags // raw.variants.${name}.cmakeFlags).onnxruntime_ENABLE_PYTHON or false;

  packageName = name: "onnxruntime-${name}";
  wrapperName = name: if name == "cpu" then "ort-wrapper" else "ort-wrapper-${name}";
}
