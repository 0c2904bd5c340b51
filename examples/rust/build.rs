//! Links ONNX Runtime with the flags its distribution records: nothing is written by hand.
//! `ORT_LIB_LOCATION` is the distribution's root; `ORT_WRAPPER` the command (default
//! `ort-wrapper`, as `pip install ort-wrapper` installs it).
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ORT_LIB_LOCATION");
    println!("cargo:rerun-if-env-changed=ORT_WRAPPER");
    let dist = env::var("ORT_LIB_LOCATION")
        .expect("set ORT_LIB_LOCATION to the ONNX Runtime distribution's root");
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
