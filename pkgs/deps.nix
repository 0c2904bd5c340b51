# What ORT 1.23.2's CMake would download, supplied from the store instead: source trees for
# FETCHCONTENT_SOURCE_DIR_* (with FETCHCONTENT_FULLY_DISCONNECTED in variants.json), and the
# upstream fixes every variant applies. mp11, safeint, dlpack, cutlass, coremltools, fp16 and
# psimd are pinned at the versions nixpkgs' onnxruntime recipe and ORT's cmake/deps.txt name
# (read from nixpkgs; ORT 1.23.2's deps.txt itself cannot be read here); ONNX is v1.18.0, ORT
# 1.23's. abseil, flatbuffers and re2 are NOT ORT's pins: they are nixpkgs' own packages'
# sources (abseil-cpp_202407, i.e. abseil 20240722.0; flatbuffers_23; re2), as in nixpkgs'
# onnxruntime. Hashes are fixed-output hashes, so a wrong one fails the fetch, never the build.
{
  lib,
  fetchFromGitHub,
  fetchpatch,
  applyPatches,
  abseil-cpp_202407,
  flatbuffers_23,
  re2,
  protobuf,
  cudaPackages,
}:
let
  mp11 = fetchFromGitHub {
    name = "mp11-src";
    owner = "boostorg";
    repo = "mp11";
    tag = "boost-1.82.0";
    hash = "sha256-cLPvjkf2Au+B19PJNrUkTW/VPxybi1MpPxnIl4oo4/o=";
  };
  safeint = fetchFromGitHub {
    name = "safeint-src";
    owner = "dcleblanc";
    repo = "safeint";
    tag = "3.0.28";
    hash = "sha256-pjwjrqq6dfiVsXIhbBtbolhiysiFlFTnx5XcX77f+C0=";
  };
  dlpack = fetchFromGitHub {
    name = "dlpack-src";
    owner = "dmlc";
    repo = "dlpack";
    rev = "5c210da409e7f1e51ddf445134a4376fdbd70d7d";
    hash = "sha256-YqgzCyNywixebpHGx16tUuczmFS5pjCz5WjR89mv9eI=";
  };
  # ONNX v1.18.0 (ORT 1.23's ONNX) with two upstream ONNX fixes needed by current compilers.
  onnx = applyPatches {
    name = "onnx-src";
    src = fetchFromGitHub {
      owner = "onnx";
      repo = "onnx";
      tag = "v1.18.0";
      hash = "sha256-UhtF+CWuyv5/Pq/5agLL4Y95YNP63W2BraprhRqJOag=";
    };
    patches = [
      (fetchpatch {
        url = "https://github.com/onnx/onnx/commit/595a069aaac07586f111681245bc808ee63551f8.patch";
        includes = [ "onnx/defs/schema.h" ];
        hash = "sha256-FFAJuJse4nmNT3ixvEdlqzbr3edY46SqEFv7z/oo6m0=";
      })
      (fetchpatch {
        url = "https://github.com/onnx/onnx/commit/6769c41ad64ebca0358da8c7211d2c6d0e627b2b.patch";
        hash = "sha256-VlTHs0om20kTNvSVQaasSsa5JROliQy4k9BECTsBtbU=";
      })
    ];
  };
  cutlass = fetchFromGitHub {
    name = "cutlass-src";
    owner = "NVIDIA";
    repo = "cutlass";
    tag = "v3.9.2";
    hash = "sha256-teziPNA9csYvhkG5t2ht8W8x5+1YGGbHm8VKx4JoxgI=";
  };
  # CoreML execution provider (aarch64-darwin): coremltools 7.1 for the model protos and
  # MILBlob, and fp16 (with psimd) as pinned in ORT's cmake/deps.txt. ORT declares coremltools
  # with a PATCH_COMMAND applying its cmake/patches/coremltools/crossplatformbuild.patch (an
  # include newer libc++ needs); FETCHCONTENT_SOURCE_DIR_COREMLTOOLS skips that command, so
  # the same patch, from the ORT source being built, is applied here the way ORT applies it.
  coremltoolsFor =
    ortSrc:
    applyPatches {
      name = "coremltools-src";
      src = fetchFromGitHub {
        owner = "apple";
        repo = "coremltools";
        tag = "7.1";
        hash = "sha256-kajQFHpl+4UK6fp+rM8TP0GiqIFYXPVFc2x1p19rBSw=";
      };
      postPatch = ''
        patch --binary --ignore-whitespace -p1 < ${ortSrc}/${coremltoolsPatch}
      '';
    };
  coremltoolsPatch = "cmake/patches/coremltools/crossplatformbuild.patch";
  fp16 = fetchFromGitHub {
    name = "fp16-src";
    owner = "Maratyszcza";
    repo = "FP16";
    rev = "0a92994d729ff76a58f692d3028ca1b64b145d91";
    hash = "sha256-m2d9bqZoGWzuUPGkd29MsrdscnJRtuIkLIMp3fMmtRY=";
  };
  psimd = fetchFromGitHub {
    name = "psimd-src";
    owner = "Maratyszcza";
    repo = "psimd";
    rev = "072586a71b55b7f8c584153d223e95687148a900";
    hash = "sha256-lV+VZi2b4SQlRYrhKx9Dxc6HlDEFz3newvcBjTekupo=";
  };
  protobufForNvcc = protobuf.overrideAttrs (old: {
    patches = (old.patches or [ ]) ++ [
      (fetchpatch {
        # nixpkgs names it "Workaround nvcc bug in message_lite.h"; a name without spaces is
        # a valid store path name whatever the fetcher does with it.
        name = "protobuf-workaround-nvcc-bug-in-message_lite.h.patch";
        url = "https://raw.githubusercontent.com/conda-forge/protobuf-feedstock/737a13ea0680484c08e8e0ab0144dab82c10c1b3/recipe/patches/0010-Workaround-nvcc-bug-in-message_lite.h.patch";
        hash = "sha256-joK50Il4mrwIc6zuNW9gDIfOx9LuA4FlusJuzUf9kqI=";
      })
    ];
  });
in
{
  cmakeFlags = [
    # Abseil is built from source with ORT and re2 (also from source) installs its targets,
    # which name absl's: absl must be exported too (nixpkgs' onnxruntime sets the same).
    (lib.cmakeBool "ABSL_ENABLE_INSTALL" true)
    (lib.cmakeFeature "FETCHCONTENT_TRY_FIND_PACKAGE_MODE" "ALWAYS")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_ABSEIL_CPP" "${abseil-cpp_202407.src}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_DLPACK" "${dlpack}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_FLATBUFFERS" "${flatbuffers_23.src}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_MP11" "${mp11}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_ONNX" "${onnx}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_RE2" "${re2.src}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_SAFEINT" "${safeint}")
  ];

  # The protobuf a variant builds with (library and protoc, given to ONNX as
  # ONNX_CUSTOM_PROTOC_EXECUTABLE). With nvcc in the build, nixpkgs' protobuf needs the
  # conda-forge workaround for an nvcc bug in message_lite.h, as nixpkgs' onnxruntime 1.23.2
  # applies it (same URL and hash).
  protobufFor = useCuda: if useCuda then protobufForNvcc else protobuf;

  # The CUDA libraries ORT's CUDA provider loads at run time: build inputs of the CUDA variants
  # (./onnxruntime.nix) and what the packaging step bundles next to it (./bundle.nix search
  # dirs). The NVRTC and nvJitLink entries are dlopened by cuDNN, cuBLASLt and cuFFT
  # (python/ort_wrapper/bundle/companions.json); python/ort_wrapper/data/sonames.json names the
  # same attributes and tests/nix checks the two agree.
  cudaRuntimeLibs = with cudaPackages; [
    cuda_cudart
    libcublas
    libcufft
    libcurand
    cudnn
    cuda_nvrtc
    libnvjitlink
  ];
  # The static variant's CUDA libraries (nixpkgs' `static` outputs: libcudart_static.a and
  # libculibos.a, libcublas_static.a and libcublasLt_static.a, libcurand_static.a,
  # libcufft_static.a), behind the CUDA::*_static targets patch 0001 links the provider with.
  cudaStaticLibs = map lib.getStatic (
    with cudaPackages;
    [
      cuda_cudart
      libcublas
      libcurand
      libcufft
    ]
  );
  # Headers and libraries the CUDA provider compiles against but does not load at run time.
  cudaBuildLibs = with cudaPackages; [
    cuda_cccl # cub/cub.cuh
    libcusparse # cusparse.h
    cudnn-frontend # header-only; found with find_package (see onnxruntime.nix's postPatch)
  ];

  cudaCmakeFlags = [
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_CUTLASS" "${cutlass}")
    (lib.cmakeFeature "onnxruntime_CUDNN_HOME" "${cudaPackages.cudnn}")
    (lib.cmakeFeature "CMAKE_CUDA_ARCHITECTURES" cudaPackages.flags.cmakeCudaArchitecturesString)
    (lib.cmakeFeature "onnxruntime_NVCC_THREADS" "1")
  ];

  # CoreML's sources; coremltools patched with ORT's own patch from `ortSrc` (ORT's source).
  coremlCmakeFlagsFor = ortSrc: [
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_COREMLTOOLS" "${coremltoolsFor ortSrc}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_FP16" "${fp16}")
    (lib.cmakeFeature "FETCHCONTENT_SOURCE_DIR_PSIMD" "${psimd}")
    # fp16 and psimd declare cmake_minimum_required < 3.5, which CMake 4 refuses.
    (lib.cmakeFeature "CMAKE_POLICY_VERSION_MINIMUM" "3.5")
  ];

  # Upstream ORT commits after v1.23.2, needed with GCC 15 (missing <cstdint>) and with its
  # stricter maybe-uninitialized / range-loop-construct warnings under ORT's -Werror.
  upstreamPatches = [
    (fetchpatch {
      name = "ort-upstream-d6e712c5-gcc15-cstdint.patch";
      url = "https://github.com/microsoft/onnxruntime/commit/d6e712c5b7b6260a61e54d1fe40107cf5366ee77.patch";
      hash = "sha256-FSuPybX8f2VoxvLhcYx4rdChaiK8bSUDR32sN3Efwfc=";
    })
    (fetchpatch {
      name = "ort-upstream-8ebd0bf1-warnings.patch";
      url = "https://github.com/microsoft/onnxruntime/commit/8ebd0bf1cf02414584d15d7244b07fa97d65ba02.patch";
      hash = "sha256-vX+kaFiNdmqWI91JELcLpoaVIHBb5EPbI7rCAMYAx04=";
    })
  ];
}
