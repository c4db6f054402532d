//! The edges that talk to the outside: kubeconfig and the API server.

pub mod api;
pub mod connect;
pub mod exec;
pub mod proxies;
pub mod transport;
pub mod view;
