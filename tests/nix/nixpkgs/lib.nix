# STAND-IN for the nixpkgs `lib` (tests only; see ../README.md).
# Only the functions this repository's Nix code calls, with nixpkgs' names, argument order and
# results (e.g. `cmakeBool "X" true` gives "-DX:BOOL=TRUE" as in nixpkgs' lib/strings.nix).
let
  inherit (builtins)
    attrNames
    concatStringsSep
    elem
    filter
    listToAttrs
    map
    ;

  cmakeOptionType =
    type: feature: value:
    "-D${feature}:${toUpper type}=${value}";

  toUpper = s: builtins.replaceStrings lowerChars upperChars s;
  lowerChars = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  upperChars = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];

  nameValuePair = name: value: { inherit name value; };
  mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (attrNames attrs);
in
rec {
  inherit nameValuePair mapAttrsToList;

  fix =
    f:
    let
      x = f x;
    in
    x;
  extends =
    overlay: f: final:
    let
      prev = f final;
    in
    prev // overlay final prev;

  genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
  mapAttrs = builtins.mapAttrs;
  mapAttrs' = f: attrs: listToAttrs (mapAttrsToList f attrs);
  filterAttrs =
    pred: attrs:
    listToAttrs (
      map (n: nameValuePair n attrs.${n}) (filter (n: pred n attrs.${n}) (attrNames attrs))
    );

  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: attrs: if cond then attrs else { };
  concatMapStringsSep = sep: f: xs: concatStringsSep sep (map f xs);
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  removePrefix =
    prefix: s:
    if hasPrefix prefix s then
      builtins.substring (builtins.stringLength prefix) (builtins.stringLength s) s
    else
      s;

  cmakeBool =
    condition: flag:
    assert builtins.isString condition;
    assert builtins.isBool flag;
    cmakeOptionType "bool" condition (toUpper (if flag then "true" else "false"));
  cmakeFeature =
    feature: value:
    assert builtins.isString feature;
    assert builtins.isString value;
    cmakeOptionType "string" feature value;

  isDerivation = value: value.type or null == "derivation";
  # As nixpkgs' lib/meta.nix: getExe' refuses what is not a derivation (its assertion's message);
  # getExe goes through it.
  getExe = drv: getExe' drv (drv.meta.mainProgram or drv.pname or drv.name);
  getExe' =
    x: y:
    assert assertMsg (isDerivation x)
      "lib.meta.getExe': The first argument is of type ${builtins.typeOf x}, but it should be a derivation instead.";
    assert assertMsg (builtins.isString y)
      "lib.meta.getExe': The second argument is of type ${builtins.typeOf y}, but it should be a string instead.";
    "${getBin x}/bin/${y}";
  # As nixpkgs' lib/attrsets.nix: a multi-output package's lib/bin/dev/static output, else out.
  getOutput =
    output: pkg:
    if !pkg ? outputSpecified || !pkg.outputSpecified then pkg.${output} or pkg.out or pkg else pkg;
  getFirstOutput =
    candidates: pkg:
    let
      outputs = filter (name: builtins.hasAttr name pkg) candidates;
    in
    if pkg.outputSpecified or false || outputs == [ ] then pkg else pkg.${builtins.head outputs};
  getLib = getOutput "lib";
  getBin = getOutput "bin";
  getDev = getOutput "dev";
  getStatic = getFirstOutput [
    "static"
    "lib"
    "out"
  ];
  assertMsg = pred: msg: pred || builtins.throw msg;
  toLower = s: builtins.replaceStrings upperChars lowerChars s;
  splitString = sep: s: filter builtins.isString (builtins.split (escapeRegex sep) s);
  # nixpkgs' escapeRegex: the characters ERE treats specially, backslash-escaped.
  escapeRegex = builtins.replaceStrings regexSpecials (map (c: "\\${c}") regexSpecials);
  regexSpecials = [ "\\" "[" "{" "(" ")" "^" "$" "?" "*" "+" "|" "." "]" "}" ];
  drop = n: xs: builtins.genList (i: builtins.elemAt xs (i + n)) (max 0 (builtins.length xs - n));
  max = a: b: if a > b then a else b;
  filter = builtins.filter;
  concatStrings = concatStringsSep "";
  concatStringsSep = builtins.concatStringsSep;
  toList = x: if builtins.isList x then x else [ x ];
  concatMap = builtins.concatMap;
  unique = builtins.foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  makeBinPath = xs: concatStringsSep ":" (map (x: "${x}/bin") xs);

  # As nixpkgs' lib/sources.nix (one level: no nested cleanSourceWith): the filtered copy as
  # outPath, and the original path and filter kept beside it.
  cleanSourceWith =
    {
      src,
      filter ? _: _: true,
      name ? "source",
    }:
    {
      _isLibCleanSourceWith = true;
      origSrc = src;
      inherit filter name;
      outPath = builtins.path {
        inherit filter name;
        path = src;
      };
    };

  importJSON = path: builtins.fromJSON (builtins.readFile path);
  importTOML = path: builtins.fromTOML (builtins.readFile path);

  # As nixpkgs' lib/meta.nix: one of meta.platforms (when there is one) and none of
  # meta.badPlatforms match (system strings only: the stand-in has no platform patterns).
  meta.availableOn =
    platform: pkg:
    elem platform.system (pkg.meta.platforms or [ platform.system ])
    && !(elem platform.system (pkg.meta.badPlatforms or [ ]));

  licenses =
    genAttrs [ "mit" "unfree" ] (shortName: {
      inherit shortName;
      free = shortName != "unfree";
    })
    // {
      # As nixpkgs' lib/licenses.nix.
      nvidiaCudaRedist = {
        shortName = "CUDA EULA";
        fullName = "CUDA Toolkit End User License Agreement (EULA)";
        free = false;
        redistributable = true;
      };
    };
}
