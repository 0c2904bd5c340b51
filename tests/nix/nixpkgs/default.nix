# STAND-IN for `import nixpkgs { system; config; overlays; }` (tests only; see ../README.md).
# Every package is a real derivation whose builder refuses to run: evaluation, `drvPath` and
# `nix show-derivation` work, building does not. Functions take nixpkgs' argument names.
{
  system,
  config ? { },
  overlays ? [ ],
}:
let
  lib = import ./lib.nix;

  hostPlatform = {
    inherit system;
    isLinux = system == "x86_64-linux" || system == "aarch64-linux";
    isDarwin = system == "aarch64-darwin" || system == "x86_64-darwin";
  };

  refuse = [
    "-c"
    "echo 'stand-in nixpkgs (tests/nix): nothing can be built with it' >&2; exit 1"
  ];

  # nixpkgs' meta checks, reduced to the two the flake relies on: a package whose
  # meta.platforms leaves out the host, or an unfree one without allowUnfree, does not evaluate.
  checkMeta =
    name: meta:
    if meta ? platforms && !(builtins.elem system meta.platforms) then
      throw "Package ‘${name}’ is not available on the requested hostPlatform ${system}"
    else if (meta.license.free or true) == false && !(config.allowUnfree or false) then
      throw "Package ‘${name}’ has an unfree license, refusing to evaluate."
    else
      true;

  # Attributes mkDerivation consumes itself instead of putting them into the environment.
  notEnv = [
    "meta"
    "passthru"
    "env"
  ];

  toEnv =
    value:
    if builtins.isAttrs value && !(value ? outPath) then
      throw "stand-in mkDerivation: an attribute set cannot go into a derivation's environment"
    else
      value;

  mkDerivation =
    fpargs:
    let
      attrs = lib.fix (final: if builtins.isFunction fpargs then fpargs final else fpargs);
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      meta = attrs.meta or { };
      drv = derivation (
        builtins.mapAttrs (_: toEnv) (removeAttrs attrs notEnv)
        // (attrs.env or { })
        // {
          inherit name;
          inherit system;
          builder = "/bin/sh";
          args = refuse;
        }
      );
    in
    assert checkMeta name meta;
    drv // (attrs.passthru or { }) // { inherit meta; passthru = attrs.passthru or { }; };

  standIn =
    name: extra:
    mkDerivation (
      {
        pname = name;
        version = "stand-in";
      }
      // extra
    );

  fetcher =
    args:
    derivation {
      name = args.name or "source";
      inherit system;
      builder = "/bin/sh";
      args = refuse;
      outputHashMode = "recursive";
      outputHash = args.hash;
      urls = args.url or "github:${args.owner}/${args.repo}/${args.tag or args.rev}";
    };

  # Tools, libraries and CUDA packages: names as in nixpkgs.
  simple = names: lib.genAttrs names (n: standIn n { });
  cudaOnly =
    names:
    lib.genAttrs names (
      n:
      standIn n {
        meta = {
          platforms = [ "x86_64-linux" ];
          license = lib.licenses.unfree;
        };
      }
    );
  # Fake hashes, distinct per source so that each has its own store path.
  withSrc =
    name: src:
    standIn name {
      passthru.src = fetcher ({ name = "${name}-source"; } // src);
    };

  python3Packages = simple [
    "setuptools"
    "numpy"
    "pyelftools"
    "auditwheel"
    "onnxruntime"
    "onnx"
    "ml-dtypes"
    "pytest"
    "pybind11"
    "packaging"
  ] // {
    # The interpreter the package set is built for (as python3Packages.python in nixpkgs).
    python = python3;
    buildPythonPackage =
      attrs:
      mkDerivation (
        removeAttrs attrs [
          "build-system"
          "dependencies"
        ]
        // {
          propagatedBuildInputs = attrs.dependencies or [ ];
          nativeBuildInputs = (attrs.build-system or [ ]) ++ (attrs.nativeBuildInputs or [ ]);
        }
      );
    mkPythonEditablePackage =
      {
        pname,
        version,
        root,
        scripts ? { },
        dependencies ? [ ],
        build-system ? [ ],
      }:
      mkDerivation {
        inherit pname version root;
        scripts = builtins.toJSON scripts;
        propagatedBuildInputs = dependencies;
        nativeBuildInputs = build-system;
      };
  };

  python3 = standIn "python3" {
    passthru = {
      pkgs = python3Packages;
      withPackages = f: standIn "python3-env" { propagatedBuildInputs = f python3Packages; };
    };
  };

  base = final: {
    inherit lib python3 python3Packages;
    stdenv = {
      inherit hostPlatform mkDerivation;
    };
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) final // args);
    fetchFromGitHub = fetcher;
    fetchpatch = fetcher;
    applyPatches =
      {
        name ? "source",
        src,
        patches ? [ ],
      }:
      mkDerivation {
        inherit name src patches;
      };
    runCommand =
      name: env: buildCommand:
      mkDerivation ({ inherit name buildCommand; } // env);
    writeShellApplication =
      {
        name,
        text,
        runtimeInputs ? [ ],
        runtimeEnv ? { },
      }:
      mkDerivation {
        inherit name text runtimeInputs;
        runtimeEnv = builtins.toJSON runtimeEnv;
        meta.mainProgram = name;
      };
    mkShell =
      attrs:
      mkDerivation (
        {
          name = "nix-shell";
        }
        // removeAttrs attrs [ "packages" ]
        // {
          nativeBuildInputs = (attrs.packages or [ ]) ++ (attrs.nativeBuildInputs or [ ]);
        }
      );
    darwinMinVersionHook = version: standIn "darwin-min-version-hook-${version}" { };

    abseil-cpp_202407 = withSrc "abseil-cpp" {
      owner = "abseil";
      repo = "abseil-cpp";
      tag = "20240722.0";
      hash = "sha256-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=";
    };
    flatbuffers_23 = withSrc "flatbuffers" {
      owner = "google";
      repo = "flatbuffers";
      tag = "v23.5.26";
      hash = "sha256-CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=";
    };
    re2 = withSrc "re2" {
      owner = "google";
      repo = "re2";
      tag = "2024-07-02";
      hash = "sha256-DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=";
    };
    protobuf = standIn "protobuf" { meta.mainProgram = "protoc"; };
    nixfmt = standIn "nixfmt" { meta.mainProgram = "nixfmt"; };

    cudaPackages =
      cudaOnly [
        "cuda_nvcc"
        "cuda_cudart"
        "cuda_cccl"
        "libcublas"
        "libcurand"
        "libcufft"
        "libcusparse"
        "cudnn"
      ]
      // {
        cudnn-frontend = withSrc "cudnn-frontend" {
          owner = "NVIDIA";
          repo = "cudnn-frontend";
          tag = "v1.12.0";
          hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        };
        backendStdenv = final.stdenv;
        flags.cmakeCudaArchitecturesString = "stand-in-cuda-architectures";
      };
  }
  // simple [
    "cmake"
    "ninja"
    "pkg-config"
    "patchelf"
    "auditwheel"
    "eigen"
    "howard-hinnant-date"
    "nlohmann_json"
    "microsoft-gsl"
    "zlib"
    "cpuinfo"
    "autoAddDriverRunpath"
    "ruff"
  ];
in
lib.fix (builtins.foldl' (f: overlay: lib.extends overlay f) base overlays)
