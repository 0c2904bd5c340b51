# A shared-library variant made self-contained by the packaging step (`ort-wrapper bundle`):
# the libraries ORT needs and dlopens (for CUDA: cudart, cuBLAS, cuFFT, cuRAND, cuDNN) are
# copied next to it with RUNPATH $ORIGIN, found in the given store paths. The GPU driver's
# libcuda is never carried: autoAddDriverRunpath points the RUNPATHs at the host's driver.
{
  lib,
  runCommand,
  autoAddDriverRunpath,
  cudaPackages,
  ortWrapperTool,
  matrix,
  unbundled,
}:
let
  searchDirs = lib.optionals (matrix.usesCuda unbundled.variantName) (
    with cudaPackages;
    map (p: "${lib.getLib p}/lib") [
      cuda_cudart
      libcublas
      libcufft
      libcurand
      cudnn
    ]
  );
in
runCommand "${unbundled.pname}-${unbundled.version}"
  {
    nativeBuildInputs = [ ortWrapperTool ] ++ lib.optionals (searchDirs != [ ]) [ autoAddDriverRunpath ];
    passthru = unbundled.passthru // {
      inherit unbundled;
    };
    inherit (unbundled) meta;
  }
  ''
    # Bundle inside the build directory (the step writes a temporary sibling of --out and
    # renames it into place, which the store does not allow next to $out), then move it.
    ort-wrapper bundle ${unbundled} --out "$NIX_BUILD_TOP/bundle" ${
      lib.concatMapStringsSep " " (dir: "--search-dir ${dir}") searchDirs
    }
    mv "$NIX_BUILD_TOP/bundle" "$out"
  ''
