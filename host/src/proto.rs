//! The wire protocol: generated protobuf and gRPC code for `dapr.proto.components.v1`,
//! compiled from our `proto/` files. The block traits never expose these types; they are
//! public for tools and tests that need to speak (or inspect) the raw protocol, as daprd does.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

tonic::include_proto!("dapr.proto.components.v1");

/// The encoded descriptor set of every file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/components_descriptor.bin"));
