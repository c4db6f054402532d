//! Faults between the plugin and the API server, on loopback: a TCP proxy that forwards to the
//! real API server and misbehaves on the way back, and a plain-HTTP fake server that answers
//! what the real one never would. Threads only; everything stops when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Forward faithfully.
    None,
    /// Hold the server's answer this long before forwarding it.
    Delay(Duration),
    /// Accept, read what the client sends, never answer.
    Hang,
    /// Accept and reset the connection (close with unread data: the kernel sends RST).
    Reset,
    /// Accept, read the client's first bytes, close cleanly (FIN).
    Close,
    /// Answer with bytes that are not TLS.
    Garbage,
    /// Forward the server's answer one byte every 50 ms.
    Trickle,
    /// Forward this many bytes of the server's answers in all, then close every connection and
    /// refuse new ones (the server "killed" mid-run).
    StopAfter(usize),
}

pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
    forwarded: Arc<AtomicUsize>,
}

impl Proxy {
    /// A proxy on a free loopback port to `upstream`, applying `fault`.
    pub fn start(upstream: SocketAddr, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let (stopping, counted) = (stop.clone(), forwarded.clone());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let forwarded = forwarded.clone();
                        let stopping = stopping.clone();
                        std::thread::spawn(move || {
                            serve(client, upstream, fault, forwarded, stopping)
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            port,
            stop,
            forwarded: counted,
        }
    }

    /// Bytes of the server's answers forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    forwarded: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    if fail_without_forwarding(&mut client, fault, &forwarded, &stop) {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    // Client to server, faithfully.
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    // Server to client, with the fault.
    let (mut from_server, mut to_client) = (server, client);
    let mut buffer = [0u8; 16384];
    let mut delayed = false;
    loop {
        let n = match from_server.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buffer[..n];
        let sent = match fault {
            Fault::StopAfter(limit) => forward_until(&mut to_client, chunk, limit, &forwarded),
            _ => {
                forwarded.fetch_add(n, Ordering::SeqCst);
                if let Fault::Delay(d) = fault
                    && !delayed
                {
                    std::thread::sleep(d);
                    delayed = true;
                }
                match fault {
                    Fault::Trickle => trickle(&mut to_client, chunk, &stop).is_ok(),
                    _ => to_client.write_all(chunk).is_ok(),
                }
            }
        };
        if !sent || stop.load(Ordering::SeqCst) {
            break;
        }
    }
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = from_server.shutdown(Shutdown::Both);
}

/// The faults that never reach the server: true when `fault` is one and has been acted out.
fn fail_without_forwarding(
    client: &mut TcpStream,
    fault: Fault,
    forwarded: &AtomicUsize,
    stop: &AtomicBool,
) -> bool {
    let mut first = [0u8; 16];
    match fault {
        Fault::Hang => {
            let mut sink = [0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                client
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                if let Ok(0) = client.read(&mut sink) {
                    break;
                }
            }
        }
        Fault::Reset => {
            // Wait for the ClientHello, leave it unread, close: RST.
            std::thread::sleep(Duration::from_millis(50));
            // (serve drops it on return)
        }
        Fault::Close => {
            let _ = client.read(&mut first);
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Garbage => {
            let _ = client.read(&mut first);
            let _ = client.write_all(b"\x00\x01garbage, not TLS\r\n\r\n<html>nope</html>");
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::StopAfter(limit) if forwarded.load(Ordering::SeqCst) >= limit => {}
        _ => return false,
    }
    true
}

/// Forwards what is left of `limit` bytes in all; false once the limit is reached.
fn forward_until(
    to_client: &mut TcpStream,
    chunk: &[u8],
    limit: usize,
    forwarded: &AtomicUsize,
) -> bool {
    let before = forwarded.fetch_add(chunk.len(), Ordering::SeqCst);
    if before >= limit {
        return false;
    }
    let allowed = (limit - before).min(chunk.len());
    to_client.write_all(&chunk[..allowed]).is_ok() && allowed == chunk.len()
}

/// Sends `chunk` a byte every 50 ms.
fn trickle(to_client: &mut TcpStream, chunk: &[u8], stop: &AtomicBool) -> std::io::Result<()> {
    for byte in chunk {
        std::thread::sleep(Duration::from_millis(50));
        to_client.write_all(std::slice::from_ref(byte))?;
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    Ok(())
}

/// One canned HTTP answer.
#[derive(Clone)]
pub struct Answer {
    pub status: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: &'static str, content_type: &str, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Answer {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// A plain-HTTP server on loopback that answers each request with `answer(n, request line)`,
/// n counting from 0. Counts the requests it saw.
pub struct FakeServer {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeServer {
    pub fn start(answer: impl Fn(usize, &str) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stopping, counted) = (stop.clone(), requests.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let (answer, counted) = (answer.clone(), counted.clone());
                        std::thread::spawn(move || http_connection(stream, &*answer, &counted));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeServer {
            port,
            requests,
            stop,
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn http_connection(
    mut stream: TcpStream,
    answer: &(dyn Fn(usize, &str) -> Answer + Send + Sync),
    counted: &AtomicUsize,
) {
    let mut pending = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        // One request: headers up to the blank line, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buffer[..n]),
            }
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while pending.len() < head_end + length {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buffer[..n]),
            }
        }
        pending.drain(..head_end + length);
        let line = head.lines().next().unwrap_or_default().to_string();
        let n = counted.fetch_add(1, Ordering::SeqCst);
        let a = answer(n, &line);
        let mut out = format!(
            "HTTP/1.1 {}\r\nContent-Length: {}\r\n",
            a.status,
            a.body.len()
        );
        for (k, v) in &a.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&a.body);
        if stream.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}
