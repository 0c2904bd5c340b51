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
// rec {
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

  # A variant that can be reduced to the operators of a set of models (./reduced.nix): static
  # archives, and no CUDA (the operator config is computed by running the models on the full
  # build in a GPU-less sandbox, and ORT's optimizers insert other kernels for CUDA). The reason
  # a variant is not, for the error message; null when it is.
  notReducible =
    name:
    if raw.variants.${name}.linkMode != "static" then
      "its linkMode is ${raw.variants.${name}.linkMode} (only static variants are reduced)"
    else if usesCuda name then
      "it uses CUDA (the operator config is computed by running the models without a GPU)"
    else
      null;

  # A variant whose build also makes the `onnxruntime` Python module (finalize installs it).
  usesPython =
    name: (raw.commonCmakeFlags // raw.variants.${name}.cmakeFlags).onnxruntime_ENABLE_PYTHON or false;

  packageName = name: "onnxruntime-${name}";
  wrapperName = name: if name == "cpu" then "ort-wrapper" else "ort-wrapper-${name}";
}
