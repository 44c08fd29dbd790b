//! `wasmplug-c-tools`: the two steps of building a C guest component that are not compiling
//! and linking, with the same libraries (and so the same output) as `wit-bindgen c` and
//! `wasm-tools component new`, without their ~12-minute `cargo install`.
//!
//! ```text
//! wasmplug-c-tools bindgen <wit-path> --world <world> --out-dir <dir>
//! wasmplug-c-tools component-new <core.wasm> -o <component.wasm>
//! wasmplug-c-tools adapter -o <file.wasm>
//! ```
//!
//! `bindgen` writes `<world>.h`, `<world>.c` and `<world>_component_type.o` (the world's type
//! as a custom section, linked into the core module). `component-new` wraps a core module
//! built for `wasm32-wasi` (preview1) with the reactor adapter into a preview2 component.
//! `adapter` writes that adapter out, for use with a separately installed `wasm-tools`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_bindgen_core::{Files, wit_parser::Resolve};

const USAGE: &str = "usage:
  wasmplug-c-tools bindgen <wit-path> --world <world> --out-dir <dir>
  wasmplug-c-tools component-new <core.wasm> -o <component.wasm>
  wasmplug-c-tools adapter -o <file.wasm>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["bindgen", wit, "--world", world, "--out-dir", out] => {
            bindgen(Path::new(wit), world, Path::new(out))
        }
        ["component-new", core, "-o", out] => component_new(Path::new(core), Path::new(out)),
        ["adapter", "-o", out] => write(Path::new(out), WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER),
        ["--version"] => {
            println!(
                "wasmplug-c-tools {} (wit-bindgen-c 0.63.0, wit-component 0.262.0, \
                 wasi-preview1-component-adapter-provider 48.0.8)",
                env!("CARGO_PKG_VERSION")
            );
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// What `wit-bindgen c <wit> --world <world> --out-dir <out>` does, with its default options.
fn bindgen(wit: &Path, world: &str, out: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .with_context(|| format!("failed to parse the WIT package at {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some(world))?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    for (name, contents) in files.iter() {
        write(&out.join(name), contents)?;
    }
    Ok(())
}

/// What `wasm-tools component new <core> --adapt wasi_snapshot_preview1=<reactor> -o <out>`
/// does: read the component type the bindings embedded in the module, adapt its preview1
/// imports to preview2, and validate the result.
fn component_new(core: &Path, out: &Path) -> Result<()> {
    let module =
        std::fs::read(core).with_context(|| format!("failed to read {}", core.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .with_context(|| {
            format!(
                "{} is not a core module with an embedded world",
                core.display()
            )
        })?
        .validate(true)
        // As `wasm-tools component new` does by default: traps then name their functions.
        .debug_names(true)
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
        .with_context(|| format!("failed to turn {} into a component", core.display()))?;
    write(out, &component)
}

fn write(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("failed to write {}", path.display()))
}
