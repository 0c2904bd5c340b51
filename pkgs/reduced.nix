# A static variant reduced to the operators a set of models uses (`lib.mkReducedOnnxruntime`):
#   mkReducedOnnxruntime "cpu" { forModels = [ ./a.onnx ./b.onnx ]; }
#   mkReducedOnnxruntime "cpu" { operatorsConfig = ./required_operators.config; }
# From models, the operator config is a derivation of its own: `ort-wrapper reduce-config` reads
# the operators each model uses and, with `--dist`, runs the models on the full build of the same
# variant at the highest optimization level to add the kernels ORT's optimizers insert (fused
# and NCHWc kernels), which a reduced build must register too. Running them links a C program
# against the static archives, so it is a runCommandCC (nixpkgs' runCommand has no compiler).
# The variant's derivation (./onnxruntime.nix) then takes the config as an input.
{
  lib,
  runCommandCC,
  matrix,
  mkOnnxruntime,
  buildVariant,
  wrapperFor,
}:
variantName:
{
  forModels ? null,
  operatorsConfig ? null,
}:
let
  fail = msg: throw "mkReducedOnnxruntime ${variantName}: ${msg}";
  why = matrix.notReducible variantName;
  full = mkOnnxruntime variantName;
  # A model must reach the build sandbox: a path (copied into the store) or something that is
  # already a store path (a derivation, or a string with its context, e.g. "${drv}/model.onnx").
  isStoreInput =
    m:
    builtins.isPath m
    || (builtins.isAttrs m && m ? outPath)
    || (builtins.isString m && builtins.hasContext m);
  describe =
    m: if builtins.isString m then "the string \"${m}\"" else "a value of type ${builtins.typeOf m}";
  checkModel =
    m:
    if isStoreInput m then
      "${m}"
    else
      fail "forModels: ${describe m} is not a model file; give a path (./model.onnx) or a derivation, which Nix copies into the store";
  models =
    if !builtins.isList forModels then
      fail "forModels must be a list of .onnx files, not ${builtins.typeOf forModels}"
    else if forModels == [ ] then
      fail "forModels is empty: give at least one .onnx model the reduced build must run"
    else
      map checkModel forModels;
  fromModels =
    runCommandCC "${matrix.packageName variantName}-${matrix.ort.version}-required-operators.config"
      { nativeBuildInputs = [ (wrapperFor full) ]; }
      ''
        # Written in the build directory, then moved: ort-wrapper writes a temporary sibling of
        # --out and renames it, which the store does not allow next to $out.
        ort-wrapper reduce-config ${lib.concatStringsSep " " models} --dist ${full} \
          --out "$NIX_BUILD_TOP/required_operators.config"
        mv "$NIX_BUILD_TOP/required_operators.config" "$out"
      '';
  config =
    if !(matrix.variants ? ${variantName}) then
      fail "no such variant (known: ${lib.concatStringsSep ", " (builtins.attrNames matrix.variants)})"
    else if why != null then
      fail "this variant cannot be reduced: ${why}"
    else if forModels != null && operatorsConfig != null then
      fail "give forModels or operatorsConfig, not both"
    else if operatorsConfig != null then
      operatorsConfig
    else if forModels != null then
      fromModels
    else
      fail "give forModels (a list of .onnx files) or operatorsConfig (a required-operators config file)";
in
buildVariant variantName config
