//! The pure core: validated request -> Istio objects -> text. Nothing here talks to the network
//! or reads files, so `--dry-run=client` and every snapshot test run with no cluster.
//!
//! Its rooms, each using only those listed before it (`render` uses `objects` only):
//! `objects` (Istio's API, validated input, names, the objects a request becomes), `mesh` (the
//! mesh as a workload sees it), `analysis` (what `status` says), `plans` (one planner per
//! command) and `render` (objects -> text). The tests below check that no module, and no room,
//! imports itself back.

pub mod analysis;
pub mod mesh;
pub mod objects;
pub mod plans;
pub mod render;

#[cfg(test)]
mod tests;
