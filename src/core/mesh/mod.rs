//! The mesh as a workload sees it: what `status` reads (`view`), which Sidecar scopes a
//! namespace and what it imports (`sidecar`, `imports`), where a request to an external host
//! goes port by port as Istio builds the sidecar's and the egress gateway's config (`traffic`),
//! and what the egress gateway's AuthorizationPolicies do to it (`gateway_policy`). Uses
//! `objects` only.

pub mod gateway_policy;
pub mod imports;
pub mod sidecar;
pub mod traffic;
pub mod view;
