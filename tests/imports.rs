//! Issue 18: what each built component imports, read with `wasm-tools
//! component wit` (crates.io; tests/run installs it). The edge build may
//! import only what both managed platforms document: `wasi:keyvalue/store`,
//! Spin's variables, outbound HTTP and the WASI p2 basics. Fermyon Cloud
//! links neither the key-value atomics nor batch; Akamai Functions no
//! atomics. The strong build imports the atomics, which is why it cannot
//! run there, and so shows the check can fail.
#![cfg(test)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// Interfaces (without their `@version`) the edge build may import.
const PLATFORMS_LINK: &[&str] = &[
    "wasi:keyvalue/store",
    "fermyon:spin/variables",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:io/poll",
    "wasi:io/error",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

fn imports(wasm: &str) -> Vec<String> {
    let path = format!("{}/{wasm}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("wasm-tools")
        .args(["component", "wit", &path])
        .output()
        .unwrap_or_else(|e| {
            panic!("wasm-tools: {e} (cargo install wasm-tools --locked; tests/run does)")
        });
    assert!(
        out.status.success(),
        "wasm-tools component wit {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wit = String::from_utf8(out.stdout).unwrap();
    wit.lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .map(|i| {
            i.trim_end_matches(';')
                .split('@')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn outside(imports: &[String]) -> Vec<&String> {
    imports
        .iter()
        .filter(|i| !PLATFORMS_LINK.contains(&i.as_str()))
        .collect()
}

#[test]
fn the_edge_build_imports_only_what_both_platforms_link() {
    let edge = imports("target/edge/wasm32-wasip2/release/image_tags.wasm");
    eprintln!("edge build imports: {}", edge.join(", "));
    assert!(edge.iter().any(|i| i == "wasi:keyvalue/store"));
    assert_eq!(outside(&edge), Vec::<&String>::new());
}

#[test]
fn the_strong_build_imports_the_atomics_the_platforms_lack() {
    let strong = imports("target/wasm32-wasip2/release/image_tags.wasm");
    assert_eq!(outside(&strong), vec!["wasi:keyvalue/atomics"]);
}
