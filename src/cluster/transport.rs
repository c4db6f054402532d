//! What the plugin adds to kube's client stack: a deadline per request, and 429/503 answers
//! with Retry-After waited out and re-sent while the deadline allows.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use tokio::time::Instant;
use tower::{BoxError, Service, ServiceExt};

tokio::task_local! {
    /// When the request being sent must be answered by (its --request-timeout), if bounded.
    pub static DEADLINE: Option<Instant>;
}

/// Retries after a 429 or 503 more than this only when the deadline allows (no limit given).
const MAX_RETRIES_UNBOUNDED: u32 = 5;

/// Re-sends a request answered 429 Too Many Requests or 503 Service Unavailable with a
/// Retry-After in seconds, after that pause, as long as the pause ends before the request's
/// deadline. Anything else passes through.
#[derive(Clone)]
pub struct RetryAfter<S> {
    inner: S,
}

impl<S> RetryAfter<S> {
    pub fn new(inner: S) -> RetryAfter<S> {
        RetryAfter { inner }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Body>> for RetryAfter<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<B>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            // Read when polled: kube's Buffer calls this in its own task, but the future runs in
            // the caller's, where the deadline is set.
            let deadline = DEADLINE.try_with(|d| *d).ok().flatten();
            let mut request = request;
            let mut retries = 0;
            loop {
                let again = copy(&request);
                let response = inner.call(request).await?;
                let wait = match response.status() {
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                        retry_after(response.headers())
                    }
                    _ => None,
                };
                let fits = |wait: Duration| match deadline {
                    Some(d) => Instant::now() + wait < d,
                    None => retries < MAX_RETRIES_UNBOUNDED,
                };
                match (wait, again) {
                    (Some(wait), Some(again)) if fits(wait) => {
                        drop(response);
                        tokio::time::sleep(wait).await;
                        retries += 1;
                        request = again;
                        inner.ready().await?;
                    }
                    _ => return Ok(response),
                }
            }
        })
    }
}

/// The request again, when its body can be sent twice (kube's bodies are whole buffers).
fn copy(request: &Request<Body>) -> Option<Request<Body>> {
    let body = request.body().try_clone()?;
    let mut builder = Request::builder()
        .method(request.method().clone())
        .uri(request.uri().clone())
        .version(request.version());
    *builder.headers_mut()? = request.headers().clone();
    builder.body(body).ok()
}

/// Retry-After in seconds (the API server's form; an HTTP date is not waited for).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
