//! The host-side representation of resources the guest holds, named by the generated
//! bindings (`with`), so this file depends on nothing generated.

use std::sync::Arc;

use crate::kv::bucket::Bucket;

/// A bucket handle held by a guest (`wasmplug:dapr/keyvalue-store.bucket`).
#[derive(Debug)]
pub struct BucketResource {
    /// The name the guest opened it by (for errors).
    pub(crate) name: String,
    pub(crate) bucket: Arc<dyn Bucket>,
}
