# The validation harness (`ort-wrapper check`, which makes its own small test model) run
# against one variant's distribution: as an app (`nix run .#ort-wrapper-cuda-dyn`) and as a
# check (`nix flake check`). No LD_LIBRARY_PATH: the distribution resolves its own libraries.
{
  lib,
  runCommand,
  writeShellApplication,
  wrapper,
}:
let
  inherit (wrapper) dist;
in
{
  app = {
    type = "app";
    meta.description = "Validate the ${dist.variantName} ONNX Runtime distribution (ort-wrapper check)";
    program = lib.getExe (writeShellApplication {
      name = "ort-wrapper-check-${dist.variantName}";
      runtimeInputs = [ wrapper ];
      text = ''
        exec ort-wrapper check --dist ${dist} "$@"
      '';
    });
  };

  check = runCommand "ort-wrapper-check-${dist.variantName}" { nativeBuildInputs = [ wrapper ]; } ''
    ort-wrapper check --dist ${dist} > "$out"
  '';
}
