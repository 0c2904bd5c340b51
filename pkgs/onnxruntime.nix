# One variant of pkgs/variants.json as a derivation of ONNX Runtime (source pinned by hash in
# variants.json). CMake flags and the patch series come from the matrix; dependencies come from
# ./deps.nix through FETCHCONTENT_SOURCE_DIR_*; the install step is the tested Python
# `ort-wrapper finalize` (archives merged, pkg-config, manifest), not shell written here.
{
  lib,
  stdenv,
  fetchFromGitHub,
  cmake,
  ninja,
  pkg-config,
  python3,
  python3Packages,
  protobuf,
  eigen,
  howard-hinnant-date,
  nlohmann_json,
  microsoft-gsl,
  zlib,
  cpuinfo,
  darwinMinVersionHook,
  cudaPackages,
  matrix,
  deps,
  ortWrapperTool,
  variantName,
}:
let
  variant = matrix.variants.${variantName};
  useCuda = matrix.usesCuda variantName;
  usePython = matrix.usesPython variantName;
  useCoreml = variant.cmakeFlags.onnxruntime_USE_COREML or false;
  effectiveStdenv = if useCuda then cudaPackages.backendStdenv else stdenv;
  # Recorded in the manifest by finalize, in the order applied.
  patchNames = map (p: p.name) deps.upstreamPatches ++ variant.patches;
in
effectiveStdenv.mkDerivation (finalAttrs: {
  pname = matrix.packageName variantName;
  inherit (matrix.ort) version;

  src = fetchFromGitHub {
    inherit (matrix.ort)
      owner
      repo
      rev
      fetchSubmodules
      hash
      ;
  };

  patches = deps.upstreamPatches ++ map (name: ../patches + "/${name}") variant.patches;

  nativeBuildInputs = [
    cmake
    ninja
    pkg-config
    python3
    protobuf
    ortWrapperTool
  ]
  ++ lib.optionals useCuda [ cudaPackages.cuda_nvcc ];

  buildInputs = [
    eigen
    howard-hinnant-date
    nlohmann_json
    microsoft-gsl
    protobuf
    zlib
  ]
  ++ lib.optionals (lib.meta.availableOn effectiveStdenv.hostPlatform cpuinfo) [ cpuinfo ]
  ++ lib.optionals useCuda (
    with cudaPackages;
    [
      cuda_cccl
      cuda_cudart
      libcublas
      libcurand
      libcufft
      libcusparse
      cudnn
    ]
  )
  # The Python module (onnxruntime_ENABLE_PYTHON): pybind11 and numpy headers, the interpreter.
  ++ lib.optionals usePython (
    with python3Packages;
    [
      python
      pybind11
      numpy
      packaging
    ]
  )
  ++ lib.optionals effectiveStdenv.hostPlatform.isDarwin [ (darwinMinVersionHook "13.3") ];

  cmakeDir = "../cmake";
  cmakeFlags =
    matrix.cmakeFlagsFor variantName
    ++ deps.cmakeFlags
    ++ lib.optionals useCuda deps.cudaCmakeFlags
    ++ lib.optionals useCoreml deps.coremlCmakeFlags
    # nvcc and cudnn-frontend deprecation warnings must not stop the build (ORT sets -Werror).
    ++ lib.optionals useCuda [ "--compile-no-warning-as-error" ];

  enableParallelBuilding = true;
  # CUDA builds are long and memory-hungry: only on builders that say they can take them
  # (docs/nix-build-discipline.md).
  requiredSystemFeatures = lib.optionals useCuda [ "big-parallel" ];

  postInstall = ''
    ort-wrapper finalize "$out" --build-dir "$PWD" --variant ${variantName} --prune \
      --source-hash ${matrix.ort.hash} ${
        lib.concatMapStringsSep " " (name: "--patches-applied ${name}") patchNames
      }
  '';

  passthru = {
    inherit variantName;
    inherit (variant) providers linkMode experimental;
  };

  meta = {
    description =
      lib.optionalString variant.experimental "EXPERIMENTAL (not validated on a GPU): "
      + "ONNX Runtime ${finalAttrs.version}, ${variant.description}";
    homepage = "https://github.com/microsoft/onnxruntime";
    license = lib.licenses.mit;
    inherit (variant) platforms;
  };
})
