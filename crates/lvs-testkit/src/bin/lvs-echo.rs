//! `lvs-echo NAME [--proxy-protocol] [--tcp ADDR:PORT]... [--udp ADDR:PORT]...`: a tiny
//! real server for tests.
//! `lvs-echo --pattern N`: write the N bytes `/bytes/N` serves to standard output.
//! `lvs-echo --udp-client ADDR:PORT [COUNT [SIZE]]`: send COUNT datagrams of SIZE bytes
//! (from one socket) and
//! print each reply on its own line; `--udp-clients` uses a new socket (source port) each
//! time.
//!
//! `lvs-echo --hold ADDR:PORT COUNT DIR`: open COUNT TCP connections to a `--lines` server
//! and exchange one line on each (answers to `DIR/round1`), then keep them open until
//! `DIR/go` exists, exchange one more line on each (`DIR/round2`: the answer, or `ERR …`)
//! and exit: long-lived connections for failover tests.
//!
//! TCP: reads an HTTP/1.x request and answers `server=NAME client=IP:PORT\n`; a request
//! for `/bytes/N` instead returns N bytes of a fixed pseudo-random pattern (for integrity
//! checks), and a `POST /echo` with a `Content-Length` returns its body unchanged.
//! `--lines`: answers every line of a connection with the same text until the client
//! closes. UDP:
//! answers every datagram with `server=NAME client=IP:PORT\n`. It tells which real server
//! answered and which client address it saw.
//!
//! `--proxy-protocol`: every TCP connection must start with a PROXY protocol v2 header
//! (`lvs_wire::proxy`); the answer then reports the client the header names,
//! `server=NAME client=IP:PORT proxy=PEER vip=IP:PORT\n` (`proxy=` is the connection's
//! own peer, the director's FULLNAT local address). A connection without a valid header is
//! answered `400` with `server=NAME error=...`. Without the option, a connection that
//! starts with a PROXY header is answered `400` with `server=NAME
//! error=unexpected-proxy-header`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::thread;

use anyhow::{Context, bail};
use lvs_wire::proxy::{ParseError, SIGNATURE, parse_v2};

/// The byte at position `i` of the `/bytes/N` pattern (xorshift-like, cheap, not constant).
fn pattern(i: u64) -> u8 {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    (x & 0xff) as u8
}

/// Read what is available and append it to `buf`; 0 at the end of the stream.
fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = s.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A `400` whose body says what went wrong.
fn refuse(w: &mut TcpStream, name: &str, why: &str) -> anyhow::Result<()> {
    let body = format!("server={name} error={why}\n");
    write!(
        w,
        "HTTP/1.0 400 Bad Request\r\nContent-Length: {}\r\nX-Server: {name}\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

fn serve_tcp(name: String, mut s: TcpStream, proxy: bool) -> anyhow::Result<()> {
    let peer = s.peer_addr()?;
    let mut buf = Vec::new();
    // Where the HTTP request starts, and who the client is.
    let mut start = 0;
    let mut client = peer.to_string();
    let mut extra = String::new();
    if proxy {
        loop {
            match parse_v2(&buf) {
                Ok(h) => {
                    start = h.len;
                    if let Some((src, dst)) = h.addrs {
                        client = src.to_string();
                        extra = format!(" proxy={peer} vip={dst}");
                    }
                    break;
                }
                Err(ParseError::Incomplete(_)) => {
                    if read_more(&mut s, &mut buf)? == 0 {
                        return Ok(());
                    }
                }
                Err(e) => {
                    return refuse(&mut s, &name, &format!("bad-proxy-header({e})"));
                }
            }
        }
    }
    // The end of the request's headers (an HTTP request never starts with CRLF, a PROXY
    // header always does).
    let head_end = loop {
        let rest = &buf[start..];
        if !proxy && rest.len() >= SIGNATURE.len() && rest.starts_with(&SIGNATURE) {
            return refuse(&mut s, &name, "unexpected-proxy-header");
        }
        if let Some(i) = find(rest, b"\r\n\r\n").filter(|&i| i > 0) {
            break start + i + 4;
        }
        if let Some(i) = find(rest, b"\n\n").filter(|&i| i > 0) {
            break start + i + 2;
        }
        if read_more(&mut s, &mut buf)? == 0 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[start..head_end]).to_string();
    let line = head.lines().next().unwrap_or("");
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("/").to_string();
    // (a second PROXY header, or any other garbage, is no request line)
    if !words.next().is_some_and(|v| v.starts_with("HTTP/")) {
        return refuse(&mut s, &name, "bad-request-line");
    }
    let length: Option<usize> = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    });
    if method == "POST" && path == "/echo" {
        let n = length.context("POST /echo without Content-Length")?;
        while buf.len() < head_end + n {
            if read_more(&mut s, &mut buf)? == 0 {
                bail!("body ended after {} of {n} bytes", buf.len() - head_end);
            }
        }
        write!(
            s,
            "HTTP/1.0 200 OK\r\nContent-Length: {n}\r\nX-Server: {name}\r\nX-Client: {client}\r\n\r\n"
        )?;
        s.write_all(&buf[head_end..head_end + n])?;
    } else if let Some(n) = path.strip_prefix("/bytes/") {
        let n: u64 = n.parse().context("byte count")?;
        write!(
            s,
            "HTTP/1.0 200 OK\r\nContent-Length: {n}\r\nX-Server: {name}\r\nX-Client: {client}\r\n\r\n"
        )?;
        let mut chunk = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < n {
            let k = (n - sent).min(chunk.len() as u64) as usize;
            for (j, b) in chunk[..k].iter_mut().enumerate() {
                *b = pattern(sent + j as u64);
            }
            s.write_all(&chunk[..k])?;
            sent += k as u64;
        }
    } else {
        let body = format!("server={name} client={client}{extra}\n");
        write!(
            s,
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nX-Server: {name}\r\n\r\n{body}",
            body.len()
        )?;
    }
    Ok(())
}

/// `--lines`: one answer per line until EOF.
fn serve_lines(name: String, s: TcpStream) -> anyhow::Result<()> {
    let peer = s.peer_addr()?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    let mut line = String::new();
    while r.read_line(&mut line)? != 0 {
        writeln!(w, "server={name} client={peer}")?;
        line.clear();
    }
    Ok(())
}

/// `--hold`: see the module documentation.
fn hold(args: &[String]) -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    let addr: std::net::SocketAddr = args.get(1).context("address")?.parse()?;
    let count: usize = args.get(2).context("count")?.parse()?;
    let dir = std::path::PathBuf::from(args.get(3).context("directory")?);
    let exchange = |s: &mut TcpStream, r: &mut BufReader<TcpStream>, msg: &str| {
        s.write_all(msg.as_bytes())?;
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            bail!("closed");
        }
        Ok::<String, anyhow::Error>(line.trim().to_string())
    };
    let write_atomic = |name: &str, lines: &[String]| -> anyhow::Result<()> {
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, lines.join("\n") + "\n")?;
        std::fs::rename(&tmp, dir.join(name))?;
        Ok(())
    };
    let mut conns = Vec::new();
    let mut out = Vec::new();
    for _ in 0..count {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut r = BufReader::new(s.try_clone()?);
        out.push(exchange(&mut s, &mut r, "hello\n")?);
        conns.push((s, r));
    }
    write_atomic("round1", &out)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !dir.join("go").exists() {
        if Instant::now() > deadline {
            bail!("no {}/go within 300 s", dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out: Vec<String> = conns
        .iter_mut()
        .map(|(s, r)| exchange(s, r, "again\n").unwrap_or_else(|e| format!("ERR {e}")))
        .collect();
    write_atomic("round2", &out)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hold") {
        return hold(&args);
    }
    if args.first().map(String::as_str) == Some("--pattern") {
        // The bytes `/bytes/N` serves, for comparing checksums of transfers.
        let n: u64 = args.get(1).context("byte count")?.parse()?;
        let mut out = std::io::stdout().lock();
        let mut buf = vec![0u8; 64 * 1024];
        let mut done = 0u64;
        while done < n {
            let k = (n - done).min(buf.len() as u64) as usize;
            for (j, b) in buf[..k].iter_mut().enumerate() {
                *b = pattern(done + j as u64);
            }
            out.write_all(&buf[..k])?;
            done += k as u64;
        }
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("--udp-client")
        || args.first().map(String::as_str) == Some("--udp-clients")
    {
        return udp_client(&args);
    }
    let Some(name) = args.first().cloned() else {
        bail!("usage: lvs-echo NAME [--proxy-protocol] [--tcp ADDR:PORT]... [--udp ADDR:PORT]...");
    };
    let proxy = args[1..].iter().any(|a| a == "--proxy-protocol");
    let mut handles = Vec::new();
    let mut it = args[1..].iter().filter(|a| *a != "--proxy-protocol");
    while let Some(flag) = it.next() {
        let addr = it.next().context("address expected")?.clone();
        let name = name.clone();
        match flag.as_str() {
            "--tcp" => {
                let l = TcpListener::bind(&addr).with_context(|| format!("bind tcp {addr}"))?;
                handles.push(thread::spawn(move || {
                    for s in l.incoming().flatten() {
                        let name = name.clone();
                        thread::spawn(move || {
                            let _ = serve_tcp(name, s, proxy);
                        });
                    }
                }));
            }
            "--lines" => {
                let l = TcpListener::bind(&addr).with_context(|| format!("bind tcp {addr}"))?;
                handles.push(thread::spawn(move || {
                    for s in l.incoming().flatten() {
                        let name = name.clone();
                        thread::spawn(move || {
                            let _ = serve_lines(name, s);
                        });
                    }
                }));
            }
            "--udp" => {
                let u = UdpSocket::bind(&addr).with_context(|| format!("bind udp {addr}"))?;
                handles.push(thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    while let Ok((_, peer)) = u.recv_from(&mut buf) {
                        let msg = format!("server={name} client={peer}\n");
                        let _ = u.send_to(msg.as_bytes(), peer);
                    }
                }));
            }
            other => bail!("unknown option {other}"),
        }
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

fn udp_client(args: &[String]) -> anyhow::Result<()> {
    let fresh = args[0] == "--udp-clients";
    let addr: std::net::SocketAddr = args.get(1).context("address")?.parse()?;
    let count: usize = args.get(2).map(|c| c.parse()).transpose()?.unwrap_or(1);
    let size: usize = args.get(3).map(|c| c.parse()).transpose()?.unwrap_or(0);
    let bind = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let mut sock = UdpSocket::bind(bind)?;
    let mut buf = [0u8; 2048];
    for i in 0..count {
        if fresh && i > 0 {
            sock = UdpSocket::bind(bind)?;
        }
        sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        // Connected, so an ICMP port unreachable comes back as ECONNREFUSED.
        sock.connect(addr)?;
        let mut msg = format!("ping {i}").into_bytes();
        msg.resize(msg.len().max(size), b'.');
        if let Err(e) = sock.send(&msg) {
            println!("send error: {e}");
            continue;
        }
        match sock.recv(&mut buf) {
            Ok(n) => print!("{}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => println!("refused"),
            Err(_) => println!("timeout"),
        }
    }
    Ok(())
}
