//! One planner per command, each deciding from the namespace's objects as listed which writes
//! to make (`allow_plan`, `route_plan`, `gateway`, `apply_plan`), and what they share: a planned
//! write as data (`change`), which object a write may touch (`ownership`), and the manifests of
//! `apply -f`/`cleanup -f` (`manifest`). Uses `analysis` (a route's checks), `mesh` and `objects`.

pub mod allow_plan;
pub mod apply_plan;
pub mod change;
pub mod gateway;
pub mod manifest;
pub mod ownership;
pub mod route_plan;
