# STAND-IN for github:NixOS/nixpkgs (tests only; see ../README.md). The flake under test is
# evaluated with `--override-input nixpkgs path:tests/nix/nixpkgs`.
{
  description = "Stand-in of the nixpkgs API used by onnxruntime-builder's flake (evaluation tests only)";

  outputs =
    { self }:
    {
      lib = import ./lib.nix;
      legacyPackages = self.lib.genAttrs [ "x86_64-linux" "aarch64-darwin" ] (
        system: import ./. { inherit system; }
      );
    };
}
