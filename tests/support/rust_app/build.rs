//! With the `seed` feature, ort-sys links nothing and this prints the distribution's own link
//! flags (`ort-wrapper link-flags $ORT_WRAPPER_DIST --format cargo`; `ORT_WRAPPER` names the
//! command). Without it, ort-sys's build script links ONNX Runtime and this does nothing.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ORT_WRAPPER_DIST");
    println!("cargo:rerun-if-env-changed=ORT_WRAPPER");
    if env::var_os("CARGO_FEATURE_SEED").is_none() {
        return;
    }
    let dist = env::var("ORT_WRAPPER_DIST").expect("the seed feature needs ORT_WRAPPER_DIST");
    let tool = env::var("ORT_WRAPPER").unwrap_or_else(|_| "ort-wrapper".into());
    let out = Command::new(&tool)
        .args(["link-flags", &dist, "--format", "cargo"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} link-flags failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8(out.stdout).expect("UTF-8 flags"));
}
