//! What `status` says: the findings catalogue and its analyzers, the report per host
//! (`status`), what `timeout`, `retries` and `via-gateway` refuse to write (`route_checks`), and
//! the live proxies against the prediction (`proxy_config`, `live`). Uses `mesh` and `objects`.

pub mod analyzers;
pub mod findings;
pub mod live;
pub mod proxy_config;
pub mod route_checks;
pub mod status;
