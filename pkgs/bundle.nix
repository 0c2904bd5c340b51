# A shared-library variant made self-contained by the packaging step (`ort-wrapper bundle`):
# the libraries ORT needs and dlopens (for CUDA: deps.cudaRuntimeLibs, i.e. cudart, cuBLAS,
# cuFFT, cuRAND, cuDNN, NVRTC, nvJitLink) are copied next to it with RUNPATH $ORIGIN, found in
# the given store paths. The GPU driver's libcuda is never carried: the bundle step puts the
# driver directory nixpkgs' addDriverRunpath names (/run/opengl-driver/lib on NixOS) first in
# every ELF's RUNPATH itself (--runpath-prefix), so nothing edits the files after the manifest
# that records their sha256 is written (runCommand has no fixup phase, and a hook run after
# the step would leave the manifest stale).
{
  lib,
  runCommand,
  addDriverRunpath,
  ortWrapperTool,
  matrix,
  deps,
  unbundled,
}:
let
  useCuda = matrix.usesCuda unbundled.variantName;
  cudaLibs = lib.optionals useCuda deps.cudaRuntimeLibs;
  searchDirs = map (p: "${lib.getLib p}/lib") cudaLibs;
in
runCommand "${unbundled.pname}-${unbundled.version}"
  {
    nativeBuildInputs = [ ortWrapperTool ];
    passthru = unbundled.passthru // {
      inherit unbundled;
    };
    # What it carries: ORT (MIT) and, for CUDA, NVIDIA's redistributable libraries.
    meta = unbundled.meta // {
      license = lib.unique (
        lib.toList unbundled.meta.license
        ++ lib.concatMap (p: lib.toList (p.meta.license or [ ])) cudaLibs
      );
    };
  }
  ''
    # Bundle inside the build directory (the step writes a temporary sibling of --out and
    # renames it into place, which the store does not allow next to $out), then move it.
    ort-wrapper bundle ${unbundled} --out "$NIX_BUILD_TOP/bundle" ${
      lib.concatMapStringsSep " " (dir: "--search-dir ${dir}") searchDirs
    }${lib.optionalString useCuda " --runpath-prefix ${addDriverRunpath.driverLink}/lib"}
    mv "$NIX_BUILD_TOP/bundle" "$out"
  ''
