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

  # nixpkgs' meta checks (pkgs/stdenv/generic/check-meta.nix), reduced to the three the flake
  # relies on: a package not available on the host (lib.meta.availableOn: meta.platforms leaves
  # it out, or meta.badPlatforms names it), an unfree one (any of its
  # licenses, meta.license being one or a list) that neither allowUnfree nor
  # allowUnfreePredicate (called with the package's attributes) lets in, or one marked
  # meta.broken without config.allowBroken, does not evaluate.
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
    if !(lib.meta.availableOn hostPlatform attrs) then
      throw "Package ‘${name}’ is not available on the requested hostPlatform ${system}"
    else if hasUnfreeLicense attrs && !(allowedUnfree attrs) then
      throw "Package ‘${name}’ has an unfree license, refusing to evaluate."
    else if (meta.broken or false) && !(config.allowBroken or false) then
      throw "Package ‘${name}’ is marked as broken, refusing to evaluate."
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

  # nixpkgs' make-derivation.nix checks `env` (its assertions' messages): no name that is also a
  # derivation argument, and only strings, booleans, integers and derivations as values.
  checkedEnv =
    env: derivationArgs:
    let
      overlapping = builtins.attrNames (builtins.intersectAttrs env derivationArgs);
      badValue = lib.filter (
        n:
        let
          v = env.${n};
        in
        !(builtins.isString v || builtins.isBool v || builtins.isInt v || lib.isDerivation v)
      ) (builtins.attrNames env);
      first = builtins.head badValue;
    in
    if overlapping != [ ] then
      throw "The `env` attribute set cannot contain any attributes passed to derivation. The following attributes are overlapping:\n${
        lib.concatMapStringsSep "\n" (n: "  - ${n}") overlapping
      }"
    else if badValue != [ ] then
      throw "The `env` attribute set can only contain derivation, string, boolean or integer attributes. The `${first}` attribute is of type ${builtins.typeOf env.${first}}."
    else
      env;

  # The C compiler of this platform's stdenv (nixpkgs: gcc on Linux, clang on darwin). As in
  # nixpkgs, a derivation's `stdenv` variable names its stdenv, whose closure holds the
  # compiler for `stdenv` and none for `stdenvNoCC`: a build script that runs `cc` under
  # stdenvNoCC fails ("cc: command not found"); tests read the closure to see which it got.
  cc = mkDerivationIn (stdenvMarker false) {
    pname = if hostPlatform.isDarwin then "clang-wrapper" else "gcc-wrapper";
    version = "stand-in";
    passthru.isClang = hostPlatform.isDarwin;
  };
  stdenvMarker =
    withCC:
    derivation {
      name = if withCC then "stdenv-${system}" else "stdenv-nocc-${system}";
      inherit system;
      builder = "/bin/sh";
      args = refuse;
      cc = if withCC then cc else "";
    };
  stdenvWith = withCC: {
    inherit hostPlatform;
    cc = if withCC then cc else null;
    mkDerivation = mkDerivationIn (stdenvMarker withCC);
  };

  mkDerivationIn =
    stdenvDrv: fpargs:
    let
      attrs = lib.fix (final: if builtins.isFunction fpargs then fpargs final else fpargs);
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      meta = attrs.meta or { };
      derivationArgs = builtins.mapAttrs (_: toEnv) (removeAttrs attrs notEnv) // {
        inherit name;
        inherit system;
        stdenv = stdenvDrv;
        builder = "/bin/sh";
        args = refuse;
      };
      drv = derivation (derivationArgs // checkedEnv (attrs.env or { }) derivationArgs);
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
        mkDerivationIn stdenvDrv (attrs // g attrs);
    };
  stdenv = stdenvWith true;
  stdenvNoCC = stdenvWith false;
  inherit (stdenv) mkDerivation;

  standIn =
    name: extra:
    mkDerivation (
      {
        pname = name;
        version = "stand-in";
      }
      // extra
    );

  fixedOutput =
    { name, url, hash }:
    derivation {
      inherit name system url;
      builder = "/bin/sh";
      args = refuse;
      outputHashMode = "recursive";
      outputHash = hash;
      urls = url;
    };

  # nixpkgs' fetchFromGitHub (pkgs/build-support/fetchgithub): exactly one of rev and tag
  # (its assertion's message), and only the arguments it and the fetchers it calls take (it
  # passes the rest on to fetchgit/fetchzip, which turn unknown ones into build variables;
  # the stand-in refuses them instead, so that a misspelt argument is caught).
  fetchFromGitHub =
    {
      owner,
      repo,
      tag ? null,
      rev ? null,
      name ? "source",
      hash,
      fetchSubmodules ? false,
      leaveDotGit ? null,
      deepClone ? false,
      private ? false,
      forceFetchGit ? false,
      fetchLFS ? false,
      rootDir ? "",
      sparseCheckout ? [ ],
      githubBase ? "github.com",
      varPrefix ? null,
      postFetch ? "",
      passthru ? { },
      meta ? { },
    }:
    assert lib.assertMsg ((tag == null) != (rev == null))
      "fetchFromGitHub requires one of either `rev` or `tag` to be provided (not both).";
    fixedOutput {
      inherit name hash;
      url = "github:${owner}/${repo}/${if tag != null then tag else rev}";
    }
    // {
      inherit owner repo;
      rev = if tag != null then "refs/tags/${tag}" else rev;
    };

  # nixpkgs' fetchpatch (pkgs/build-support/fetchpatch) and the fetchurl arguments it passes
  # on: includes and excludes are exclusive (its throwIfNot), a hash is required.
  fetchpatch =
    {
      url,
      hash,
      name ? baseNameOf url,
      relative ? null,
      stripLen ? 0,
      decode ? "cat",
      extraPrefix ? null,
      excludes ? [ ],
      includes ? [ ],
      revert ? false,
      postFetch ? "",
      passthru ? { },
      meta ? { },
    }:
    if excludes != [ ] && includes != [ ] then
      throw "fetchpatch: cannot use excludes and includes simultaneously"
    else
      fixedOutput { inherit name url hash; };

  # nixpkgs' fetchurl (pkgs/build-support/fetchurl): url or urls, and one hash, given as `hash`
  # (SRI) or by algorithm (`sha256`, `sha512`, `sha1`); arguments it does not take are refused.
  fetchurl =
    {
      url ? null,
      urls ? [ ],
      name ? baseNameOf (if url != null then url else builtins.head urls),
      hash ? "",
      sha256 ? "",
      sha512 ? "",
      sha1 ? "",
      postFetch ? "",
      downloadToTemp ? false,
      executable ? false,
      recursiveHash ? false,
      curlOpts ? "",
      curlOptsList ? [ ],
      netrcPhase ? null,
      passthru ? { },
      meta ? { },
    }:
    let
      given = lib.filter (h: h != "") [
        hash
        sha256
        sha512
        sha1
      ];
      all = lib.optionals (url != null) [ url ] ++ urls;
    in
    if all == [ ] then
      throw "fetchurl requires either `url` or `urls` to be set"
    else if builtins.length given != 1 then
      throw "fetchurl: exactly one of hash, sha256, sha512, sha1 is needed (got ${toString (builtins.length given)})"
    else
      derivation {
        inherit name system;
        builder = "/bin/sh";
        args = refuse;
        urls = all;
        outputHashMode = if recursiveHash then "recursive" else "flat";
        outputHashAlgo = if hash != "" then "" else if sha256 != "" then "sha256" else if sha512 != "" then "sha512" else "sha1";
        outputHash = builtins.head given;
      };

  # Tools, libraries and CUDA packages: names as in nixpkgs.
  simple = names: lib.genAttrs names (n: standIn n { });
  # CUDA redistributables: unfree (NVIDIA's CUDA EULA; cuDNN has its own, as in nixpkgs'
  # cuda-modules), x86_64-linux only here, broken unless config.cudaSupport.
  cudnnLicense = {
    shortName = "cuDNN EULA";
    fullName = "NVIDIA cuDNN Software License Agreement (EULA)";
    free = false;
    redistributable = true;
  };
  # Multi-output as in nixpkgs' cuda-modules: headers in dev, shared libraries in lib, static
  # archives in static, nvcc's programs in bin (lib.getLib/getDev/getBin/getStatic pick them).
  cudaOutputs = {
    cuda_nvcc = [
      "out"
      "bin"
      "dev"
    ];
    cuda_cccl = [
      "out"
      "dev"
    ];
  };
  cudaOnly =
    names:
    lib.genAttrs names (
      n:
      standIn n {
        outputs =
          cudaOutputs.${n} or [
            "out"
            "dev"
            "lib"
            "static"
          ];
        meta = {
          platforms = [ "x86_64-linux" ];
          license = if n == "cudnn" then cudnnLicense else lib.licenses.nvidiaCudaRedist;
          # nixpkgs' cuda-modules buildRedist: a brokenAssertion "CUDA support is enabled by
          # config.cudaSupport" makes every redistributable meta.broken without it.
          broken = !(config.cudaSupport or false);
        };
      }
    );
  # Fake hashes, distinct per source so that each has its own store path.
  withSrc =
    name: src:
    standIn name {
      passthru.src = fetchFromGitHub ({ name = "${name}-source"; } // src);
    };

  # auditwheel: Linux-only, as nixpkgs' python-modules/auditwheel (meta.platforms = linux).
  auditwheel = standIn "auditwheel" {
    version = pythonVersions.auditwheel;
    meta.platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };

  # Versions for the runtime-deps check: plausible, not those of any one nixpkgs revision.
  # onnxruntime is 1.22.2, a version nixpkgs has carried (its package.nix, read through the code
  # index), so that ort-wrapper's `onnxruntime==1.23.2` needs pythonRelaxDeps, as it does with
  # any nixpkgs whose onnxruntime is not exactly 1.23.2.
  pythonVersions = {
    setuptools = "80.9.0";
    numpy = "2.3.4";
    pyelftools = "0.32";
    onnxruntime = "1.22.2";
    onnx = "1.19.1";
    ml-dtypes = "0.5.3";
    pytest = "8.4.2";
    pybind11 = "3.0.1";
    packaging = "25.0";
    auditwheel = "6.4.2";
    flatbuffers = "25.2.10";
  };
  pythonPackage = n: standIn n { version = pythonVersions.${n}; };

  # nixpkgs' pythonRuntimeDepsCheckHook, at evaluation time: every Requires-Dist of the
  # package's pyproject.toml (extras left out, as the wheel's metadata marks them) must be
  # among `dependencies` at a version its specifiers accept, unless pythonRemoveDeps drops it
  # or pythonRelaxDeps drops its specifiers (each may be a list of names or true).
  normalize = n: lib.toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ] n);
  listed = spec: n: spec == true || builtins.elem n (map normalize (lib.toList spec));
  satisfies =
    version: spec:
    let
      m = builtins.match " *(==|>=|<=|~=|!=|<|>) *([^ ]+) *" spec;
      op = builtins.elemAt m 0;
      c = builtins.compareVersions version (builtins.elemAt m 1);
    in
    if m == null then
      throw "stand-in pythonRuntimeDepsCheck: cannot read the version specifier ${spec}"
    else
      {
        "==" = c == 0;
        ">=" = c >= 0;
        "<=" = c <= 0;
        "~=" = c >= 0;
        "!=" = c != 0;
        "<" = c < 0;
        ">" = c > 0;
      }
      .${op};
  runtimeDepsCheck =
    attrs: requirement:
    let
      parts = builtins.match "([A-Za-z0-9_.-]+) *([^;]*)(;(.*))?" requirement;
      name = normalize (builtins.elemAt parts 0);
      specs = lib.filter (x: x != "") (lib.splitString "," (builtins.elemAt parts 1));
      marker = builtins.elemAt parts 3;
      found = lib.filter (d: normalize (d.pname or "") == name) (attrs.dependencies or [ ]);
      dep = builtins.head found;
      bad = lib.filter (spec: !(satisfies dep.version spec)) specs;
    in
    if marker != null && builtins.match ".*extra *==.*" marker != null then
      true
    else if listed (attrs.pythonRemoveDeps or [ ]) name then
      true
    else if found == [ ] then
      throw "pythonRuntimeDepsCheck: ${attrs.pname}: ${name} not installed (needed: ${requirement})"
    else if bad != [ ] && !(listed (attrs.pythonRelaxDeps or [ ]) name) then
      throw "pythonRuntimeDepsCheck: ${attrs.pname}: ${name}${lib.concatStrings bad} not satisfied by version ${dep.version}"
    else
      true;
  # The project's pyproject.toml: in src (read from the original tree of a cleanSourceWith
  # source, which evaluation never copies), or the folder sourceRoot names inside it.
  pyprojectOf =
    attrs:
    let
      sub = lib.concatStringsSep "/" (lib.drop 1 (lib.splitString "/" (attrs.sourceRoot or "")));
      base = attrs.src.origSrc or attrs.src;
      path = base + "${lib.optionalString (sub != "") "/${sub}"}/pyproject.toml";
    in
    if attrs ? src && builtins.pathExists path then lib.importTOML path else { };

  python3Packages = lib.genAttrs (builtins.attrNames pythonVersions) pythonPackage // {
    inherit auditwheel;
    # The interpreter the package set is built for (as python3Packages.python in nixpkgs).
    python = python3;
    buildPythonPackage =
      attrs:
      let
        requires = (pyprojectOf attrs).project.dependencies or [ ];
        drvName = "${python3.libPrefix}-${attrs.pname}-${attrs.version}";
      in
      # nixpkgs' mk-python-derivation.nix: a package must say how it is built.
      assert lib.assertMsg (attrs ? pyproject || attrs ? format)
        "${drvName} does not configure a `format`. To build with setuptools as before, set `pyproject = true` and `build-system = [ setuptools ]`.";
      assert (attrs.pyproject or false) -> builtins.all (runtimeDepsCheck attrs) requires;
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
      libPrefix = "python3.13";
      pkgs = python3Packages;
      withPackages = f: standIn "python3-env" { propagatedBuildInputs = f python3Packages; };
    };
  };

  base = final: {
    inherit lib python3 python3Packages;
    inherit stdenv stdenvNoCC;
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) final // args);
    inherit fetchFromGitHub fetchpatch fetchurl;
    # As nixpkgs: the configuration it was imported with, and pkgsCuda (pkgs/top-level/variants.nix),
    # the same package set with cudaSupport on and rocmSupport off.
    inherit config;
    pkgsCuda = import ./. {
      inherit system overlays;
      config = config // {
        cudaSupport = true;
        rocmSupport = false;
      };
    };
    applyPatches =
      {
        name ? "source",
        src,
        patches ? [ ],
        prePatch ? "",
        postPatch ? "",
      }:
      stdenvNoCC.mkDerivation {
        inherit
          name
          src
          patches
          prePatch
          postPatch
          ;
      };
    # As nixpkgs' trivial-builders: runCommand is built with stdenvNoCC, runCommandCC with
    # stdenv (the one that has a C compiler).
    runCommand =
      name: env: buildCommand:
      stdenvNoCC.mkDerivation ({ inherit name buildCommand; } // env);
    runCommandCC =
      name: env: buildCommand:
      stdenv.mkDerivation ({ inherit name buildCommand; } // env);
    writeShellApplication =
      {
        name,
        text,
        runtimeInputs ? [ ],
        runtimeEnv ? { },
      }:
      stdenvNoCC.mkDerivation {
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
    # nixpkgs' add-driver-runpath: the hook, and the driver directory it adds as driverLink.
    addDriverRunpath = standIn "add-driver-runpath" { driverLink = "/run/opengl-driver"; };
    # LLVM's tools (llvm-ar, llvm-nm, …) in the out output, as nixpkgs' llvmPackages.llvm.
    llvmPackages.llvm = standIn "llvm" { };
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
    "removeReferencesTo"
    "ruff"
  ];
in
lib.fix (builtins.foldl' (f: overlay: lib.extends overlay f) base overlays)
