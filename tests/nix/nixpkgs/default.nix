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

  # nixpkgs' meta checks (pkgs/stdenv/generic/check-meta.nix), reduced to the two the flake
  # relies on: a package whose meta.platforms leaves out the host, or an unfree one (any of its
  # licenses, meta.license being one or a list) that neither allowUnfree nor
  # allowUnfreePredicate (called with the package's attributes) lets in, does not evaluate.
  # As in nixpkgs, the check fires when the package is used (e.g. as another's build input).
  hasUnfreeLicense =
    attrs: builtins.any (l: !(l.free or true)) (lib.toList (attrs.meta.license or [ ]));
  allowedUnfree =
    attrs: (config.allowUnfree or false) || (config.allowUnfreePredicate or (_: false)) attrs;
  checkMeta =
    name: attrs:
    let
      meta = attrs.meta or { };
    in
    if meta ? platforms && !(builtins.elem system meta.platforms) then
      throw "Package ‘${name}’ is not available on the requested hostPlatform ${system}"
    else if hasUnfreeLicense attrs && !(allowedUnfree attrs) then
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
    assert checkMeta name attrs;
    drv
    // (attrs.passthru or { })
    // {
      inherit meta;
      passthru = attrs.passthru or { };
      # nixpkgs' overrideAttrs (prevAttrs: { … }) or (finalAttrs: prevAttrs: { … }).
      overrideAttrs =
        f:
        let
          g = if builtins.isFunction (f attrs) then f attrs else f;
        in
        mkDerivation (attrs // g attrs);
    };

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
  # CUDA redistributables: unfree (NVIDIA's CUDA EULA; cuDNN has its own, as in nixpkgs'
  # cuda-modules), x86_64-linux only here.
  cudnnLicense = {
    shortName = "cuDNN EULA";
    fullName = "NVIDIA cuDNN Software License Agreement (EULA)";
    free = false;
    redistributable = true;
  };
  cudaOnly =
    names:
    lib.genAttrs names (
      n:
      standIn n {
        meta = {
          platforms = [ "x86_64-linux" ];
          license = if n == "cudnn" then cudnnLicense else lib.licenses.nvidiaCudaRedist;
        };
      }
    );
  # Fake hashes, distinct per source so that each has its own store path.
  withSrc =
    name: src:
    standIn name {
      passthru.src = fetcher ({ name = "${name}-source"; } // src);
    };

  # auditwheel: Linux-only, as nixpkgs' python-modules/auditwheel (meta.platforms = linux).
  auditwheel = standIn "auditwheel" {
    meta.platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };

  python3Packages = simple [
    "setuptools"
    "numpy"
    "pyelftools"
    "onnxruntime"
    "onnx"
    "ml-dtypes"
    "pytest"
    "pybind11"
    "packaging"
  ] // {
    inherit auditwheel;
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
    inherit auditwheel;
    protobuf = standIn "protobuf" { meta.mainProgram = "protoc"; };
    # Something unfree that is not CUDA (the flake's allowUnfreePredicate must refuse it).
    unfree-probe = standIn "unfree-probe" { meta.license = lib.licenses.unfree; };
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
        "cuda_nvrtc"
        "libnvjitlink"
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
    "eigen"
    "howard-hinnant-date"
    "nlohmann_json"
    "microsoft-gsl"
    "zlib"
    "cpuinfo"
    "autoAddDriverRunpath"
    "addDriverRunpath"
    "removeReferencesTo"
    "ruff"
  ];
in
lib.fix (builtins.foldl' (f: overlay: lib.extends overlay f) base overlays)
