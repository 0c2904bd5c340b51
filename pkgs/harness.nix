# The validation harness (`ort-wrapper check`, which makes its own small test model) run
# against one variant's distribution: as an app (`nix run .#ort-wrapper-cuda-dyn`, every
# section) and as a check (`nix flake check`). No LD_LIBRARY_PATH: the distribution resolves its
# own libraries. A build sandbox has no GPU, so for a variant that needs one (`linkingOnly`) the
# check runs the linking section alone; the providers section would fail a claimed but unusable
# CUDA provider there. Both compile: the linking section of a static variant builds a C program
# against the archives, so the check is a runCommandCC (nixpkgs' runCommand uses stdenvNoCC: no
# compiler) and the app carries stdenv.cc instead of relying on one on the user's host.
{
  lib,
  stdenv,
  runCommandCC,
  writeShellApplication,
  wrapper,
  appName,
  linkingOnly ? false,
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
      runtimeInputs = [
        wrapper
        stdenv.cc
      ];
      text = ''
        exec ort-wrapper check --dist ${dist} "$@"
      '';
    });
  };

  check =
    runCommandCC "ort-wrapper-check-${dist.variantName}"
      {
        nativeBuildInputs = [ wrapper ];
        passthru = { inherit linkingOnly; };
      }
      ''
        ${lib.optionalString linkingOnly ''
          echo "ort-wrapper check: linking section only (no GPU in the build sandbox;" \
            "nix run .#${appName} runs every section)" >&2
        ''}ort-wrapper check --dist ${dist}${lib.optionalString linkingOnly " --only linking"} > "$out"
      '';
}
