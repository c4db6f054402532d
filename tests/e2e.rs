//! End-to-end tests against the real local control plane (scripts/cluster): kube-apiserver and
//! etcd on loopback, Istio's CRDs, RBAC on, the audit log as the witness of every request.
//!
//! Run by scripts/test, which starts three clusters (Istio v1 CRDs, v1beta1-only CRDs, no CRDs)
//! and passes their state directories in EGRESS_E2E_V1, EGRESS_E2E_V1BETA1, EGRESS_E2E_NOCRDS.
//! Tests run one at a time (--test-threads=1) so the audit log can be read per test; each works
//! in a namespace of its own.
//!
//! One test binary, a module per area under tests/e2e/; what they share is in tests/e2e/support.rs.
#![cfg(feature = "e2e")]

#[path = "support/faults.rs"]
mod faults;
#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "oracle/mod.rs"]
mod oracle;
#[path = "e2e/support.rs"]
mod support;

#[path = "e2e/analyze.rs"]
mod analyze;
#[path = "e2e/api_faults.rs"]
mod api_faults;
#[path = "e2e/apply_f.rs"]
mod apply_f;
#[path = "e2e/clusters.rs"]
mod clusters;
#[path = "e2e/concurrency.rs"]
mod concurrency;
#[path = "e2e/credentials.rs"]
mod credentials;
#[path = "e2e/exercise.rs"]
mod exercise;
#[path = "e2e/gateway.rs"]
mod gateway;
#[path = "e2e/https.rs"]
mod https;
#[path = "e2e/namespaces.rs"]
mod namespaces;
#[path = "e2e/oracle_live.rs"]
mod oracle_live;
#[path = "e2e/requests.rs"]
mod requests;
#[path = "e2e/status.rs"]
mod status;
#[path = "e2e/wait.rs"]
mod wait;
