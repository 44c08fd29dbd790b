//! Building blocks. Each block lives in its own folder with every surface it has: the native
//! trait and domain types, the wasm adapter, and the in-memory reference implementation.

pub mod state;
