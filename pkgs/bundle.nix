# A shared-library variant made self-contained by the packaging step (`ort-wrapper bundle`):
# the libraries ORT needs and dlopens (for CUDA: deps.cudaRuntimeLibs, i.e. cudart, cuBLAS,
# cuFFT, cuRAND, cuDNN, NVRTC, nvJitLink) are copied next to it with RUNPATH $ORIGIN, found in
# the given store paths. The GPU driver's libcuda is never carried: nixpkgs' addDriverRunpath
# puts the driver directory (/run/opengl-driver/lib on NixOS) first in every ELF's RUNPATH.
# runCommand runs only its build command (no fixup phase, so autoAddDriverRunpath's postFixup
# hook would never run): the hook's function is called here, after the bundle step.
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
    nativeBuildInputs = [ ortWrapperTool ] ++ lib.optionals useCuda [ addDriverRunpath ];
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
  (
    ''
      # Bundle inside the build directory (the step writes a temporary sibling of --out and
      # renames it into place, which the store does not allow next to $out), then move it.
      ort-wrapper bundle ${unbundled} --out "$NIX_BUILD_TOP/bundle" ${
        lib.concatMapStringsSep " " (dir: "--search-dir ${dir}") searchDirs
      }
      mv "$NIX_BUILD_TOP/bundle" "$out"
    ''
    + lib.optionalString useCuda ''
      # The driver's libcuda.so.1 from the host. addDriverRunpath is a shell function of the
      # hook (find cannot exec it); it skips files that are not ELF.
      chmod -R u+w "$out"
      while IFS= read -r -d "" file; do
        addDriverRunpath "$file"
      done < <(find "$out" -type f -print0)
    ''
  )
