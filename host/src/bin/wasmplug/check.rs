//! `wasmplug check` (one component) and `wasmplug validate` (a whole config).

use std::path::Path;

use wasmplug::runtime::{ComponentInfo, Provider, Runtime};

/// Compiles the component at `path` and prints the blocks it implements and the imports it
/// needs; fails if it implements none or needs an import wasmplug does not provide.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let runtime = Runtime::shared();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let (component, _) = runtime.compile(&name, path, &bytes, None)?;
    let info = ComponentInfo::of(runtime.engine(), &component);
    if info.services.is_empty() {
        anyhow::bail!(
            "{}: exports no known building block; it exports: [{}]",
            path.display(),
            info.exports.join(", ")
        );
    }
    println!("{}", path.display());
    for s in &info.services {
        println!(
            "  implements: {} ({}, {})",
            s.block(),
            s.as_str(),
            s.wit_export()
        );
    }
    let mut unknown = Vec::new();
    for i in &info.imports {
        if i.provider == Provider::Unknown {
            unknown.push(i.name.clone());
        }
        println!("  imports:    {} ({})", i.name, provided_by(i.provider));
    }
    if !unknown.is_empty() {
        anyhow::bail!(
            "{}: imports interfaces wasmplug does not provide: {}",
            path.display(),
            unknown.join(", ")
        );
    }
    Ok(())
}

/// What `check` says provides an import.
fn provided_by(provider: Provider) -> &'static str {
    match provider {
        Provider::Wasi => "WASI, sandboxed by grants",
        Provider::KeyValue => "host key-value, needs grants.keyValue",
        Provider::Config => "host config",
        Provider::Logging => "host logging",
        Provider::Types => "shared types",
        Provider::Unknown => "NOT PROVIDED by wasmplug",
    }
}

/// Loads the config at `config` and every component in it, and prints one line per component.
pub fn validate(config: &Path) -> anyhow::Result<()> {
    let host = wasmplug::Host::load(config)?;
    for c in host.components() {
        println!(
            "ok  {} ({}) {}",
            c.name(),
            c.config.block,
            c.config.wasm.display()
        );
    }
    Ok(())
}
