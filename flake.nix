{
  description = "ONNX Runtime builds (static CPU, CUDA, CoreML) with a Python wrapper and validation harness";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      matrix = import ./pkgs/matrix.nix { inherit lib; };
      # CUDA and cuDNN are unfree (and what bundles them): allowed, nothing else unfree is.
      pkgsFor =
        system:
        import nixpkgs {
          inherit system;
          config.allowUnfreePredicate = self.lib.allowUnfreePredicate;
          overlays = [ self.overlays.default ];
        };
      perSystem = f: lib.genAttrs matrix.systems (system: f (pkgsFor system).ortBuilder);
    in
    {
      overlays.default = final: prev: { ortBuilder = import ./pkgs { pkgs = final; }; };

      lib = {
        inherit matrix;
        # For your own `import nixpkgs { config.allowUnfreePredicate = …; }`: CUDA and cuDNN only.
        allowUnfreePredicate = import ./pkgs/unfree.nix { inherit lib; };
        # `mkOnnxruntime pkgs "cpu"`: one variant of pkgs/variants.json built with `pkgs`.
        mkOnnxruntime = pkgs: (import ./pkgs { inherit pkgs; }).mkOnnxruntime;
        # `mkReducedOnnxruntime pkgs "cpu" { forModels = [ ./model.onnx ]; }`: that variant with
        # only the operator kernels the models use (or `{ operatorsConfig = ./ops.config; }`).
        mkReducedOnnxruntime = pkgs: (import ./pkgs { inherit pkgs; }).mkReducedOnnxruntime;
      };

      packages = perSystem (o: o.packages);
      apps = perSystem (o: o.apps);
      checks = perSystem (o: o.checks);
      devShells = perSystem (o: o.devShells);
      formatter = lib.genAttrs matrix.systems (system: nixpkgs.legacyPackages.${system}.nixfmt);
    };
}
