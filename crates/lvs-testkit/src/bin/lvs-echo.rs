//! `lvs-echo NAME [--tcp ADDR:PORT]... [--udp ADDR:PORT]...`: a tiny real server for tests.
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
//! checks). `--lines`: answers every line of a connection with the same text until the
//! client closes. UDP: answers every datagram with `server=NAME client=IP:PORT\n`. It
//! tells which real server answered and which client address it saw.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::thread;

use anyhow::{Context, bail};

/// The byte at position `i` of the `/bytes/N` pattern (xorshift-like, cheap, not constant).
fn pattern(i: u64) -> u8 {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    (x & 0xff) as u8
}

fn serve_tcp(name: String, s: TcpStream) -> anyhow::Result<()> {
    let peer = s.peer_addr()?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    // Skip headers.
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut w = s;
    if let Some(n) = path.strip_prefix("/bytes/") {
        let n: u64 = n.parse().context("byte count")?;
        write!(
            w,
            "HTTP/1.0 200 OK\r\nContent-Length: {n}\r\nX-Server: {name}\r\n\r\n"
        )?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < n {
            let k = (n - sent).min(buf.len() as u64) as usize;
            for (j, b) in buf[..k].iter_mut().enumerate() {
                *b = pattern(sent + j as u64);
            }
            w.write_all(&buf[..k])?;
            sent += k as u64;
        }
    } else {
        let body = format!("server={name} client={peer}\n");
        write!(
            w,
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
        bail!("usage: lvs-echo NAME [--tcp ADDR:PORT]... [--udp ADDR:PORT]...");
    };
    let mut handles = Vec::new();
    let mut it = args[1..].iter();
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
                            let _ = serve_tcp(name, s);
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
