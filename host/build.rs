//! Compiles `../proto` (Dapr's pluggable-components protocol, our own .proto files) with the
//! pure-Rust `protox` compiler: no system `protoc` is needed. The encoded descriptor set is
//! also kept for gRPC server reflection.

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "dapr/proto/components/v1/common.proto",
    "dapr/proto/components/v1/state.proto",
    "dapr/proto/components/v1/pubsub.proto",
    "dapr/proto/components/v1/bindings.proto",
    "dapr/proto/components/v1/secretstore.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let fds = protox::compile(FILES, ["../proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("components_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
