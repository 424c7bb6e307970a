//! Embeds the shipped base models when they exist, so the service starts
//! from any working directory; without them (bootstrapping with
//! `evni train`), the crate builds and `Models::base` reports them missing.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(evni_base_models)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    println!("cargo::rerun-if-changed={}", root.display());
    let files = [
        "csar_2/model.safetensors",
        "csar_2/model.json",
        "csar_c_2/model.safetensors",
        "csar_c_2/model.json",
    ];
    for f in files {
        println!("cargo::rerun-if-changed={}", root.join(f).display());
    }
    if files.iter().all(|f| root.join(f).is_file()) {
        println!("cargo::rustc-cfg=evni_base_models");
    }
}
