# One variant of pkgs/variants.json as a derivation of ONNX Runtime (source pinned by hash in
# variants.json). CMake flags and the patch series come from the matrix; dependencies come from
# ./deps.nix through FETCHCONTENT_SOURCE_DIR_*; CMake's install is the staging prefix from which
# the tested Python `ort-wrapper finalize` writes $out (archives merged, pkg-config, manifest),
# not shell written here.
# With `operatorsConfig` (ONNX Runtime's required-operators config file; ./reduced.nix makes one
# from models), a reduced build: ORT's own tools/ci_build/reduce_op_kernels.py writes the
# reduced kernel registrations before CMake configures, onnxruntime_REDUCED_OPS_BUILD makes CMake
# compile them instead of the originals, and finalize records the config in the manifest.
{
  lib,
  stdenv,
  fetchFromGitHub,
  cmake,
  ninja,
  pkg-config,
  python3,
  python3Packages,
  removeReferencesTo,
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
  operatorsConfig ? null,
}:
let
  variant = matrix.variants.${variantName};
  useCuda = matrix.usesCuda variantName;
  usePython = matrix.usesPython variantName;
  useCoreml = matrix.usesCoreml variantName;
  # The static CUDA variant links the CUDA libraries statically (CUDA::*_static).
  staticCuda = useCuda && variant.linkMode == "static";
  effectiveStdenv = if useCuda then cudaPackages.backendStdenv else stdenv;
  protobuf = deps.protobufFor useCuda;
  nvcc = lib.getBin cudaPackages.cuda_nvcc;
  # This repository's series for the variant (patches/), applied after the upstream fixes.
  localPatches = map (name: ../patches + "/${name}") variant.patches;
  # Recorded in the manifest by finalize, in the order applied.
  patchNames = map (p: p.name) deps.upstreamPatches ++ variant.patches;
  reduced = operatorsConfig != null;
  # reduce_op_kernels.py imports ORT's config parser, which ORT's tools/python/util only
  # defines when the `flatbuffers` module imports (whether or not types are reduced).
  reducePython = python3.withPackages (ps: [ ps.flatbuffers ]);
in
assert lib.assertMsg (!reduced || matrix.notReducible variantName == null)
  "onnxruntime.nix: variant ${variantName} cannot be reduced: ${toString (matrix.notReducible variantName)}";
effectiveStdenv.mkDerivation (finalAttrs: {
  pname = matrix.packageName variantName + lib.optionalString reduced "-reduced";
  inherit (matrix.ort) version;

  src = fetchFromGitHub {
    inherit (matrix.ort)
      owner
      repo
      tag
      fetchSubmodules
      hash
      ;
  };

  patches = deps.upstreamPatches ++ localPatches;

  nativeBuildInputs = [
    cmake
    ninja
    pkg-config
    python3
    protobuf
    ortWrapperTool
  ]
  ++ lib.optionals useCuda [
    cudaPackages.cuda_nvcc
    removeReferencesTo
  ];

  buildInputs = [
    eigen
    howard-hinnant-date
    nlohmann_json
    microsoft-gsl
    protobuf
    zlib
  ]
  ++ lib.optionals (lib.meta.availableOn effectiveStdenv.hostPlatform cpuinfo) [ cpuinfo ]
  ++ lib.optionals useCuda (deps.cudaBuildLibs ++ deps.cudaRuntimeLibs)
  ++ lib.optionals staticCuda deps.cudaStaticLibs
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
    # Fails to find protoc on darwin otherwise (as in nixpkgs).
    ++ [ (lib.cmakeFeature "ONNX_CUSTOM_PROTOC_EXECUTABLE" (lib.getExe protobuf)) ]
    ++ lib.optionals reduced [ (lib.cmakeBool "onnxruntime_REDUCED_OPS_BUILD" true) ]
    ++ lib.optionals useCuda deps.cudaCmakeFlags
    ++ lib.optionals useCoreml (deps.coremlCmakeFlagsFor finalAttrs.src)
    # ORT sets -Werror (COMPILE_WARNING_AS_ERROR): nvcc and cudnn-frontend deprecations, and
    # newer GCCs' warnings, must not stop the build. As the seed project's working builds did
    # for every Linux build, and nixpkgs for CUDA and clang builds.
    ++ lib.optionals (useCuda || effectiveStdenv.hostPlatform.isLinux) [
      "--compile-no-warning-as-error"
    ];

  # As nixpkgs' onnxruntime: no executable stack in what ORT links (Linux).
  env = lib.optionalAttrs effectiveStdenv.hostPlatform.isLinux { NIX_LDFLAGS = "-z,noexecstack"; };

  # This repository's series must apply to this source as written (no fuzz), after the
  # upstream fixes, checked in order on a scratch copy of the files they touch before
  # patchPhase changes anything: a patch whose context does not match 1.23.2 fails here, named,
  # instead of applying at a guessed place.
  prePatch = lib.optionalString (variant.patches != [ ]) ''
    ${builtins.readFile ./check-patches.sh}
    check_patch_series ${lib.concatMapStringsSep " " (p: "${p}") deps.upstreamPatches} -- ${
      lib.concatMapStringsSep " " (p: "${p}") localPatches
    }
  '';

  # As nixpkgs' onnxruntime: cudnn-frontend (header-only, a build input) through find_package
  # instead of ORT's FetchContent declaration.
  postPatch = lib.optionalString useCuda ''
    echo "find_package(cudnn_frontend REQUIRED)" > cmake/external/cudnn_frontend.cmake
  '';

  enableParallelBuilding = true;
  # CUDA builds are long and memory-hungry: only on builders that say they can take them
  # (docs/nix-build-discipline.md).
  requiredSystemFeatures = lib.optionals useCuda [ "big-parallel" ];

  # CMake installs into $out, the staging prefix: nixpkgs' fixup phase walks only the outputs,
  # and it strips every file under lib/ (re-running ranlib on archives) and shrinks RPATHs, so
  # the staged install must sit there while it runs. finalize then reads it in postFixup, the
  # last step, and writes the distribution as a new directory in the build directory (the
  # store allows no sibling of $out to rename from), which replaces $out: the manifest's sha256
  # values are those of the fixed-up files. Stripping is kept (dontStrip is not set; why:
  # docs/build-reference.md), and `ort-wrapper check` verifies the recorded hashes against $out.
  # nvcc's paths end up in the CUDA objects' strings; the toolkit must not be a run-time
  # dependency (nixpkgs' onnxruntime does the same for libonnxruntime_providers_cuda.so; here for
  # every file, since the static variant carries the CUDA objects in archives and the layout
  # finalize writes is not nixpkgs'). A reference left anywhere fails the build here, not later.
  # What finalize takes from the build tree is cleaned too: the component archives (merged
  # when the install step left them out) and the Python package folder (installed as
  # lib/python by the variants that build the module).
  postFixup =
    ''
      ortBuildDir="$NIX_BUILD_TOP/$sourceRoot/''${cmakeBuildDir:-build}"
      ortDist="$NIX_BUILD_TOP/ort-dist"
    ''
    + lib.optionalString useCuda ''
      find "$out" -type f -exec remove-references-to -t ${nvcc} {} +
      find "$ortBuildDir" -maxdepth 1 -name 'libonnxruntime_*.a' -exec remove-references-to -t ${nvcc} {} +
      if [ -d "$ortBuildDir/onnxruntime" ]; then
        find "$ortBuildDir/onnxruntime" -type f -exec remove-references-to -t ${nvcc} {} +
      fi
    ''
    + ''
      ort-wrapper finalize "$out" --out "$ortDist" --build-dir "$ortBuildDir" \
        --variant ${variantName} --prune --source-hash ${matrix.ort.hash} ${
          lib.concatMapStringsSep " " (name: "--patches-applied ${name}") patchNames
        }${lib.optionalString reduced " --operators-config ${operatorsConfig}"}
      rm -rf "$out"
      mv "$ortDist" "$out"
    '';
  disallowedRequisites = lib.optionals useCuda [ nvcc ];

  passthru = {
    inherit variantName operatorsConfig;
    inherit (variant) providers linkMode experimental;
  };

  meta = {
    description =
      lib.optionalString variant.experimental "EXPERIMENTAL (not validated on a GPU): "
      + "ONNX Runtime ${finalAttrs.version}, ${variant.description}"
      + lib.optionalString reduced ", reduced to the operators its operator config lists";
    homepage = "https://github.com/microsoft/onnxruntime";
    license = lib.licenses.mit;
    inherit (variant) platforms;
    # What finalize writes into every distribution: lib/pkgconfig/libonnxruntime.pc, and the
    # CMake package lib/cmake/onnxruntime (onnxruntime::onnxruntime).
    pkgConfigModules = [ "libonnxruntime" ];
  };
}
# Only a reduced build gets the hook: the other derivations stay as they were.
// lib.optionalAttrs reduced {
  # Before CMake runs: nixpkgs' cmakeConfigurePhase runs this hook in the source root, then sets
  # cmakeBuildDir (default build) and configures there, so the script's output lands in
  # ${CMAKE_BINARY_DIR}/op_reduction.generated, where ORT's substitute_op_reduction_srcs
  # (cmake/onnxruntime_providers.cmake) takes the reduced registration files from.
  preConfigure = ''
    ${reducePython}/bin/python3 tools/ci_build/reduce_op_kernels.py \
      --cmake_build_dir "''${cmakeBuildDir:-build}" ${operatorsConfig}
  '';
})
