# The unfree packages this flake accepts: NVIDIA's CUDA and cuDNN redistributables (CUDA EULA,
# cuDNN EULA) and what carries them (the bundled onnxruntime-cuda-dyn). Anything else unfree is
# refused as nixpkgs refuses it by default. Used as nixpkgs' `config.allowUnfreePredicate`,
# which nixpkgs calls with the package's attributes (meta.license a license or a list of them).
{ lib }:
let
  accepted = [
    "CUDA EULA" # lib.licenses.nvidiaCuda, nvidiaCudaRedist
    "cuDNN EULA" # cudaPackages.cudnn
  ];
in
pkg:
builtins.all (license: (license.free or true) || builtins.elem (license.shortName or "") accepted) (
  lib.toList (pkg.meta.license or [ ])
)
