//! What a component is, exports and imports, and whether it can run as configured.

use wasmtime::Engine;
use wasmtime::component::{Component, types::ComponentItem};

use super::error::{NotAComponent, Unsupported};
use crate::config::Grants;
use crate::kind::{BlockKind, Service};

/// Who provides an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// WASI preview 2, sandboxed by the component's grants.
    Wasi,
    /// Host key-value buckets; needs a `grants.keyValue` entry.
    KeyValue,
    /// Host config (the component's metadata).
    Config,
    /// Host logging into `tracing`.
    Logging,
    /// The shared `wasmplug:dapr/types` (types only, nothing to grant).
    Types,
    /// Nothing: the component cannot be instantiated here.
    Unknown,
}

impl Provider {
    /// Who provides the import `name`; `is_instance` tells whether it imports an interface
    /// instance (WASI is only ever imported as interfaces).
    pub fn of(name: &str, is_instance: bool) -> Self {
        match name {
            n if n.starts_with("wasi:") && is_instance => Provider::Wasi,
            n if n.starts_with("wasmplug:dapr/keyvalue-") => Provider::KeyValue,
            n if n.starts_with("wasmplug:dapr/config@") => Provider::Config,
            n if n.starts_with("wasmplug:dapr/logging@") => Provider::Logging,
            n if n.starts_with("wasmplug:dapr/types@") => Provider::Types,
            _ => Provider::Unknown,
        }
    }
}

/// An import and who provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInfo {
    /// Interface name, e.g. `wasi:filesystem/types@0.2.6`.
    pub name: String,
    /// Provider.
    pub provider: Provider,
}

/// What a component offers and needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// The block interfaces it exports.
    pub services: Vec<Service>,
    /// Everything it exports.
    pub exports: Vec<String>,
    /// Everything it imports.
    pub imports: Vec<ImportInfo>,
}

impl ComponentInfo {
    /// Reads exports and imports of a compiled component.
    pub fn of(engine: &Engine, component: &Component) -> Self {
        let ty = component.component_type();
        let exports = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        let imports = ty
            .imports(engine)
            .map(|(name, item)| ImportInfo {
                name: name.to_owned(),
                provider: Provider::of(
                    name,
                    matches!(item.ty, ComponentItem::ComponentInstance(_)),
                ),
            })
            .collect();
        Self::from_parts(exports, imports)
    }

    /// Info from export names and classified imports (the block services are derived).
    pub fn from_parts(exports: Vec<String>, imports: Vec<ImportInfo>) -> Self {
        let services = Service::ALL
            .iter()
            .copied()
            .filter(|s| exports.iter().any(|e| e == s.wit_export()))
            .collect();
        ComponentInfo {
            services,
            exports,
            imports,
        }
    }

    /// Checks the component implements `block` and imports only what it can be given.
    pub fn validate(&self, block: BlockKind, grants: &Grants) -> Result<(), Unsupported> {
        for import in &self.imports {
            match import.provider {
                Provider::Unknown => return Err(Unsupported::UnknownImport(import.name.clone())),
                Provider::KeyValue if grants.key_value.is_empty() => {
                    return Err(Unsupported::KeyValueNotGranted(import.name.clone()));
                }
                _ => {}
            }
        }
        if self.services.is_empty() {
            return Err(Unsupported::NoBlockExport {
                expected: Service::ALL
                    .iter()
                    .map(|s| s.wit_export())
                    .collect::<Vec<_>>()
                    .join(", "),
                exports: self.exports.clone(),
            });
        }
        if !self.services.iter().any(|s| s.block() == block) {
            return Err(Unsupported::WrongBlock {
                configured: block,
                implements: self.services.iter().map(|s| s.block()).collect(),
            });
        }
        Ok(())
    }
}

/// The block services a component exports, read off its top-level export section without
/// compiling it (nested modules are skipped unread: well under a millisecond even for a 20 MB
/// component), so the bridge can bind its
/// sockets and answer reflection before anything is compiled. Compiling validates the
/// component fully later; this only has to find the names.
pub fn exported_services(bytes: &[u8]) -> Result<Vec<Service>, NotAComponent> {
    check_is_component(bytes)?;
    let malformed =
        |e: wasmparser::BinaryReaderError| NotAComponent::Malformed(e.message().to_owned());
    let mut services = Vec::new();
    let mut parser = wasmparser::Parser::new(0);
    let mut offset = 0;
    loop {
        let Some(rest) = bytes.get(offset..) else {
            return Err(NotAComponent::Malformed("truncated".to_owned()));
        };
        let (consumed, payload) = match parser.parse(rest, true).map_err(malformed)? {
            wasmparser::Chunk::Parsed { consumed, payload } => (consumed, payload),
            // With `eof` set the parser never asks for more; treat it as truncation.
            wasmparser::Chunk::NeedMoreData(_) => {
                return Err(NotAComponent::Malformed("truncated".to_owned()));
            }
        };
        offset += consumed;
        match payload {
            // Nested modules and components (the bulk of the bytes) have exports of their
            // own: skipped unread (the outer parser expects the bytes after them next), only
            // the top level counts.
            wasmparser::Payload::ModuleSection {
                unchecked_range, ..
            }
            | wasmparser::Payload::ComponentSection {
                unchecked_range, ..
            } => {
                offset = unchecked_range.end;
            }
            wasmparser::Payload::ComponentExportSection(exports) => {
                for export in exports {
                    let name = export.map_err(malformed)?.name.name;
                    services.extend(Service::ALL.iter().filter(|s| s.wit_export() == name));
                }
            }
            wasmparser::Payload::End(_) => break,
            _ => {}
        }
    }
    Ok(services)
}

/// Rejects anything that is not a binary component, saying what it is instead.
pub fn check_is_component(bytes: &[u8]) -> Result<(), NotAComponent> {
    match bytes.get(..8) {
        Some([b'\0', b'a', b's', b'm', 0x0d, 0x00, 0x01, 0x00]) => Ok(()),
        Some([b'\0', b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00]) => Err(NotAComponent::CoreModule),
        Some([b'\0', b'a', b's', b'm', ..]) => Err(NotAComponent::UnsupportedVersion),
        _ => Err(NotAComponent::NotWasm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_says_what_a_file_is() {
        let component = [b'\0', b'a', b's', b'm', 0x0d, 0x00, 0x01, 0x00, 0xff];
        assert_eq!(check_is_component(&component), Ok(()));
        let module = [b'\0', b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00];
        assert_eq!(check_is_component(&module), Err(NotAComponent::CoreModule));
        let other = [b'\0', b'a', b's', b'm', 0x02, 0x00, 0x00, 0x00];
        assert_eq!(
            check_is_component(&other),
            Err(NotAComponent::UnsupportedVersion)
        );
        assert_eq!(check_is_component(b"\0asm"), Err(NotAComponent::NotWasm));
        assert_eq!(
            check_is_component(b"hello, world"),
            Err(NotAComponent::NotWasm)
        );
        assert_eq!(check_is_component(b""), Err(NotAComponent::NotWasm));
    }

    #[test]
    fn imports_are_classified_by_interface() {
        assert_eq!(
            Provider::of("wasi:cli/environment@0.2.6", true),
            Provider::Wasi
        );
        // A bare function named like WASI is not a WASI interface.
        assert_eq!(
            Provider::of("wasi:cli/environment@0.2.6", false),
            Provider::Unknown
        );
        assert_eq!(
            Provider::of("wasmplug:dapr/keyvalue-atomics@0.1.0", true),
            Provider::KeyValue
        );
        assert_eq!(
            Provider::of("wasmplug:dapr/config@0.1.0", true),
            Provider::Config
        );
        assert_eq!(
            Provider::of("wasmplug:dapr/logging@0.1.0", true),
            Provider::Logging
        );
        assert_eq!(
            Provider::of("wasmplug:dapr/types@0.1.0", true),
            Provider::Types
        );
        assert_eq!(Provider::of("acme:db/query@1.0.0", true), Provider::Unknown);
    }

    fn info(exports: &[&str], imports: &[(&str, Provider)]) -> ComponentInfo {
        ComponentInfo::from_parts(
            exports.iter().map(|e| (*e).to_owned()).collect(),
            imports
                .iter()
                .map(|(name, provider)| ImportInfo {
                    name: (*name).to_owned(),
                    provider: *provider,
                })
                .collect(),
        )
    }

    #[test]
    fn validation_checks_imports_then_exports_then_block() {
        let state = Service::State.wit_export();
        let kv = ("wasmplug:dapr/keyvalue-store@0.1.0", Provider::KeyValue);
        let none = Grants::default();
        assert_eq!(
            info(&[state], &[("acme:x/y@1.0.0", Provider::Unknown)])
                .validate(BlockKind::State, &none),
            Err(Unsupported::UnknownImport("acme:x/y@1.0.0".into()))
        );
        assert_eq!(
            info(&[state], &[kv]).validate(BlockKind::State, &none),
            Err(Unsupported::KeyValueNotGranted(kv.0.into()))
        );
        assert!(matches!(
            info(&["other"], &[]).validate(BlockKind::State, &none),
            Err(Unsupported::NoBlockExport { .. })
        ));
        assert_eq!(
            info(&[state], &[]).validate(BlockKind::PubSub, &none),
            Err(Unsupported::WrongBlock {
                configured: BlockKind::PubSub,
                implements: vec![BlockKind::State]
            })
        );
        assert_eq!(
            info(&[state], &[]).validate(BlockKind::State, &none),
            Ok(())
        );
    }
}
