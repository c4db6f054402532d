//! What `status` says: the findings catalogue and its analyzers, the report per host
//! (`status`), what `timeout`, `retries` and `via-gateway` refuse to write (`route_checks`), and
//! the live proxies against the prediction (`proxy_config`, `live`), and the report drawn as a
//! tree or Graphviz (`graph`). Uses `mesh` and `objects` (and `render`'s escaping).

pub mod analyzers;
pub mod findings;
pub mod graph;
pub mod live;
pub mod proxy_config;
pub mod route_checks;
pub mod status;
