//! The objects: Istio's networking API as the plugin writes and reads it, the values a user
//! types (validated), the names given to a host's objects, and the objects that carry a
//! validated request out (`plan`). The bottom room: it uses no other room of the core.

pub mod istio;
pub mod naming;
pub mod plan;
pub mod validate;
pub(crate) mod words;
