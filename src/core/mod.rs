//! The pure core: validated request -> Istio objects -> text. Nothing here talks to the network
//! or reads files, so `--dry-run=client` and every snapshot test run with no cluster.

pub mod analyzers;
pub mod findings;
pub mod gateway;
pub mod istio;
pub mod manifest;
pub mod naming;
pub mod ownership;
pub mod plan;
pub mod render;
pub mod status;
pub mod traffic;
pub mod validate;
pub mod view;
mod words;
