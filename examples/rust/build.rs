//! Links ONNX Runtime with the flags its distribution records: nothing is written by hand.
//! `ORT_WRAPPER_DIST` is the distribution's root and `ORT_LIB_LOCATION` the folder holding its
//! library, as the `ort` crate reads it: `eval "$(ort-wrapper env DIST)"` sets both, and so do
//! the dev shells. `ORT_WRAPPER` is the command (default `ort-wrapper`, as `pip install
//! ort-wrapper` installs it).
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ORT_WRAPPER_DIST");
    println!("cargo:rerun-if-env-changed=ORT_WRAPPER");
    let dist = env::var("ORT_WRAPPER_DIST").expect(
        "set ORT_WRAPPER_DIST to the ONNX Runtime distribution's root: eval \"$(ort-wrapper env DIST)\"",
    );
    let tool = env::var("ORT_WRAPPER").unwrap_or_else(|_| "ort-wrapper".into());
    let out = Command::new(&tool)
        .args(["link-flags", &dist, "--format", "cargo"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (pip install ort-wrapper): {e}"));
    if !out.status.success() {
        panic!(
            "{tool} link-flags failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    print!(
        "{}",
        String::from_utf8(out.stdout).expect("link-flags printed UTF-8")
    );
}
