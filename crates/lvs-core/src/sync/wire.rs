//! The sync daemon's wire format (`ip_vs_sync.c`, reference §6): version 1 messages (the
//! kernel's default since 2.6.39) and the legacy version 0, both big-endian UDP payloads.
//!
//! ```text
//! v1 header (8)   u8 reserved = 0 | u8 syncid | be16 size | u8 nr_conns | s8 version = 1 | be16 spare = 0
//! v1 conn (36/72) u8 type (bit 0: IPv6) | u8 protocol | be16 ver_size (version << 12 | length)
//!                 be32 flags | be16 state | be16 cport | be16 vport | be16 dport
//!                 be32 fwmark | be32 timeout (s) | caddr | vaddr | daddr (4 or 16 bytes each)
//!                 options: u8 type, u8 length (> 0), data; the entry is padded to 4 bytes
//! v0 header (4)   u8 nr_conns | u8 syncid | be16 size
//! v0 conn (24)    u8 reserved | u8 protocol | be16 cport, vport, dport | be32 caddr, vaddr, daddr
//!                 | be16 flags | be16 state [| 24 bytes of sequence data if IN_SEQ/OUT_SEQ]
//! ```
//!
//! A receiver tells the versions apart by the header: `version == 1 && reserved == 0 &&
//! spare == 0` is v1, anything else v0 (a v0 message with conns has `nr_conns` ≠ 0 in byte
//! 0, which v1 reserves; a v0 receiver drops v1 messages for the same reason).
//!
//! Decoding follows `ip_vs_process_message` exactly, including what it tolerates: entries
//! decoded before a malformed one are kept (the kernel has applied them by then), an entry
//! with an unknown *mandatory* option is skipped, unknown optional ones
//! ([`OPT_F_PARAM`] set) are ignored, bytes after the last entry are ignored. Nothing here
//! panics on any input.
//!
//! One extension: [`OPT_LOCAL`], an optional parameter (ignored by kernels) carrying a
//! FULLNAT connection's local address and port (see `docs/sync.md`).

use crate::conn::Addr16;
use crate::types::Af;

/// Version number in the v1 header (`SYNC_PROTO_VER`).
pub const SYNC_PROTO_VER: u8 = 1;
/// Length of the v1 header.
pub const HEADER_LEN: usize = 8;
/// Length of the v0 header.
pub const V0_HEADER_LEN: usize = 4;
/// Length of an IPv4 v1 entry without options.
pub const CONN_V4_LEN: usize = 36;
/// Length of an IPv6 v1 entry without options.
pub const CONN_V6_LEN: usize = 72;
/// Length of a v0 entry without sequence data.
pub const V0_CONN_LEN: usize = 24;
/// Length of the sequence data (`struct ip_vs_sync_conn_options`: in_seq, out_seq).
pub const SEQ_LEN: usize = 24;
/// `type` bit of an IPv6 entry (`STYPE_F_INET6`).
pub const TYPE_F_INET6: u8 = 1;
/// Option: sequence adjustment data.
pub const OPT_SEQ_DATA: u8 = 1;
/// Option: persistence engine data (e.g. a SIP Call-ID).
pub const OPT_PE_DATA: u8 = 2;
/// Option: persistence engine name.
pub const OPT_PE_NAME: u8 = 3;
/// Option type bit: the option may be ignored by a receiver that does not know it.
pub const OPT_F_PARAM: u8 = 0x40;
/// lvs-rs extension: FULLNAT local address and port (`be16 lport | laddr`), optional.
pub const OPT_LOCAL: u8 = OPT_F_PARAM | 0x08;
/// Longest persistence engine data (`IP_VS_PEDATA_MAXLEN`).
pub const PE_DATA_MAX: usize = 255;
/// Longest persistence engine name (`IP_VS_PENAME_MAXLEN`).
pub const PE_NAME_MAX: usize = 16;
/// Largest entry length the 12-bit length field can carry.
pub const CONN_LEN_MAX: usize = 0x0fff;
/// Most entries in one message (`nr_conns` is a byte).
pub const MAX_CONNS: usize = 255;

/// Flag bits of the connection flags (`IP_VS_CONN_F_*`) the codec needs.
const F_SEQ_MASK: u32 = 0x0600;

/// Message format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// The legacy format (`sync_version = 0`): IPv4 only, no timeout, no fwmark.
    V0,
    /// The current format (`sync_version = 1`, the default).
    V1,
}

/// `struct ip_vs_seq`: one direction's TCP sequence adjustment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqAdjust {
    /// First sequence number the delta applies from.
    pub init_seq: u32,
    /// Current delta.
    pub delta: u32,
    /// Delta before the last change.
    pub previous_delta: u32,
}

/// One connection (or template) as a sync message carries it.
///
/// Addresses are in [`Addr16`] form (IPv4 in the first four bytes) so that fwmark templates,
/// whose "virtual address" is the mark, round-trip bit for bit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncConn {
    /// Address family of caddr, vaddr and daddr.
    pub af: Af,
    /// IP protocol (0 = `IP` for fwmark templates).
    pub protocol: u8,
    /// Connection flags as the sender has them (minus HASHED).
    pub flags: u32,
    /// Protocol state (TCP state number; templates: 0 NONE, 1 ASSURED).
    pub state: u16,
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Real server port.
    pub dport: u16,
    /// Firewall mark (v1 only; 0 in v0).
    pub fwmark: u32,
    /// Timeout in seconds (v1 only; 0 in v0 = "use the protocol's table").
    pub timeout: u32,
    /// Client address.
    pub caddr: Addr16,
    /// Virtual address.
    pub vaddr: Addr16,
    /// Real server address.
    pub daddr: Addr16,
    /// Sequence adjustment (in, out), when the connection has one.
    pub seq: Option<[SeqAdjust; 2]>,
    /// Persistence engine data.
    pub pe_data: Option<Vec<u8>>,
    /// Persistence engine name.
    pub pe_name: Option<Vec<u8>>,
    /// FULLNAT local address and port ([`OPT_LOCAL`] extension).
    pub local: Option<(Addr16, u16)>,
}

impl SyncConn {
    fn addr_len(&self) -> usize {
        match self.af {
            Af::Inet => 4,
            Af::Inet6 => 16,
        }
    }

    /// The entry's v1 length without padding, or why it cannot be encoded.
    pub fn v1_len(&self) -> Result<usize, EncodeError> {
        let mut len = match self.af {
            Af::Inet => CONN_V4_LEN,
            Af::Inet6 => CONN_V6_LEN,
        };
        if self.seq.is_some() {
            len += 2 + SEQ_LEN;
        }
        match (&self.pe_data, &self.pe_name) {
            (Some(d), _) if d.is_empty() || d.len() > PE_DATA_MAX => {
                return Err(EncodeError::PeData);
            }
            (None, Some(_)) => return Err(EncodeError::PeData),
            (Some(d), n) => {
                len += 2 + d.len();
                if let Some(n) = n {
                    if n.is_empty() || n.len() > PE_NAME_MAX {
                        return Err(EncodeError::PeData);
                    }
                    len += 2 + n.len();
                }
            }
            (None, None) => {}
        }
        if self.local.is_some() {
            len += 2 + 2 + self.addr_len();
        }
        Ok(len)
    }

    /// The entry's v0 length, or why it cannot be encoded in v0.
    pub fn v0_len(&self) -> Result<usize, EncodeError> {
        if self.af != Af::Inet {
            return Err(EncodeError::V0NotIpv4);
        }
        Ok(if self.flags & F_SEQ_MASK != 0 {
            V0_CONN_LEN + SEQ_LEN
        } else {
            V0_CONN_LEN
        })
    }
}

/// Why an entry cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Persistence engine data empty or longer than 255 bytes, a name without data, or a
    /// name empty or longer than 16 bytes.
    #[error("persistence engine data or name out of range")]
    PeData,
    /// Version 0 carries IPv4 connections only.
    #[error("version 0 messages carry IPv4 connections only")]
    V0NotIpv4,
    /// More than [`MAX_CONNS`] entries or 65535 bytes in one message.
    #[error("too many entries for one message")]
    TooLong,
}

/// Why a received message was dropped (the whole message, or from the entry on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer than 4 bytes.
    #[error("message header too short")]
    TooShort,
    /// The header's size differs from the datagram's length.
    #[error("bogus message size")]
    BadSize,
    /// An entry runs past the end of the message.
    #[error("entry runs past the end of the message")]
    Truncated,
    /// An entry's version nibble is not 0.
    #[error("unknown entry version {0}")]
    EntryVersion(u8),
    /// An entry's type is neither IPv4 (0) nor IPv6 (bit 0).
    #[error("unknown entry type {0}")]
    EntryType(u8),
    /// An entry's length is shorter than its fixed part.
    #[error("entry length shorter than its addresses")]
    EntryTooShort,
    /// An option header or body runs past the entry, or has length 0.
    #[error("malformed option")]
    BadOption,
    /// A known option with a wrong length, or given twice.
    #[error("bad or repeated option {0}")]
    BadOptionValue(u8),
}

/// The fixed header fields both versions share, read without decoding the entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format.
    pub version: Version,
    /// Sync id of the sender.
    pub syncid: u8,
    /// Number of entries announced.
    pub nr_conns: u8,
    /// Datagram size announced.
    pub size: u16,
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The entries decoded, in order.
    pub conns: Vec<SyncConn>,
    /// Entries skipped because they carried an unknown mandatory option.
    pub skipped: u32,
    /// Set when decoding stopped early; the entries before it are still in `conns` (the
    /// kernel has applied them by the time it notices).
    pub error: Option<DecodeError>,
}

#[inline]
fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

#[inline]
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn addr_at(b: &[u8], i: usize, af: Af) -> Addr16 {
    let mut a = [0u8; 16];
    let n = if af == Af::Inet { 4 } else { 16 };
    a[..n].copy_from_slice(&b[i..i + n]);
    Addr16(a)
}

fn put_addr(out: &mut Vec<u8>, a: &Addr16, af: Af) {
    let n = if af == Af::Inet { 4 } else { 16 };
    out.extend_from_slice(&a.0[..n]);
}

/// Check the header the way the kernel does before anything else: at least 4 bytes and a
/// size field equal to the datagram's length. Says which version it is.
pub fn peek_header(buf: &[u8]) -> Result<Header, DecodeError> {
    if buf.len() < V0_HEADER_LEN {
        return Err(DecodeError::TooShort);
    }
    let size = be16(buf, 2);
    if usize::from(size) != buf.len() {
        return Err(DecodeError::BadSize);
    }
    let v1 =
        buf.len() >= HEADER_LEN && buf[0] == 0 && buf[5] == SYNC_PROTO_VER && be16(buf, 6) == 0;
    Ok(if v1 {
        Header {
            version: Version::V1,
            syncid: buf[1],
            nr_conns: buf[4],
            size,
        }
    } else {
        Header {
            version: Version::V0,
            syncid: buf[1],
            nr_conns: buf[0],
            size,
        }
    })
}

/// Decode a whole datagram (see the module documentation for what is tolerated).
pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
    let header = peek_header(buf)?;
    let mut msg = Message {
        header,
        conns: Vec::new(),
        skipped: 0,
        error: None,
    };
    match header.version {
        Version::V1 => decode_v1(buf, &mut msg),
        Version::V0 => decode_v0(buf, &mut msg),
    }
    Ok(msg)
}

fn decode_v1(buf: &[u8], msg: &mut Message) {
    let end = buf.len();
    let mut next = HEADER_LEN;
    for _ in 0..msg.header.nr_conns {
        let p = next;
        if p + CONN_V4_LEN > end {
            msg.error = Some(DecodeError::Truncated);
            return;
        }
        let ver_size = be16(buf, p + 2);
        let size = usize::from(ver_size & 0x0fff);
        let entry_end = p + size;
        if entry_end > end {
            msg.error = Some(DecodeError::Truncated);
            return;
        }
        if ver_size >> 12 != 0 {
            msg.error = Some(DecodeError::EntryVersion((ver_size >> 12) as u8));
            return;
        }
        match decode_entry(&buf[p..entry_end]) {
            Ok(Some(c)) => msg.conns.push(c),
            Ok(None) => msg.skipped += 1,
            Err(e) => {
                msg.error = Some(e);
                return;
            }
        }
        next = p + ((size + 3) & !3);
    }
}

/// One v1 entry (`e` is exactly its `size` bytes). `Ok(None)`: skip it (unknown mandatory
/// option).
fn decode_entry(e: &[u8]) -> Result<Option<SyncConn>, DecodeError> {
    let ty = e[0];
    let (af, fixed) = if ty & TYPE_F_INET6 != 0 {
        (Af::Inet6, CONN_V6_LEN)
    } else if ty == 0 {
        (Af::Inet, CONN_V4_LEN)
    } else {
        return Err(DecodeError::EntryType(ty));
    };
    if fixed > e.len() {
        return Err(DecodeError::EntryTooShort);
    }
    let alen = if af == Af::Inet { 4 } else { 16 };
    let mut c = SyncConn {
        af,
        protocol: e[1],
        flags: be32(e, 4),
        state: be16(e, 8),
        cport: be16(e, 10),
        vport: be16(e, 12),
        dport: be16(e, 14),
        fwmark: be32(e, 16),
        timeout: be32(e, 20),
        caddr: addr_at(e, 24, af),
        vaddr: addr_at(e, 24 + alen, af),
        daddr: addr_at(e, 24 + 2 * alen, af),
        seq: None,
        pe_data: None,
        pe_name: None,
        local: None,
    };
    let mut p = fixed;
    while p < e.len() {
        if p + 2 > e.len() {
            return Err(DecodeError::BadOption);
        }
        let (ptype, plen) = (e[p], usize::from(e[p + 1]));
        p += 2;
        if plen == 0 || p + plen > e.len() {
            return Err(DecodeError::BadOption);
        }
        let data = &e[p..p + plen];
        match ptype & !OPT_F_PARAM {
            OPT_SEQ_DATA => {
                if plen != SEQ_LEN || c.seq.is_some() {
                    return Err(DecodeError::BadOptionValue(OPT_SEQ_DATA));
                }
                let s = |i: usize| SeqAdjust {
                    init_seq: be32(data, i),
                    delta: be32(data, i + 4),
                    previous_delta: be32(data, i + 8),
                };
                c.seq = Some([s(0), s(12)]);
            }
            OPT_PE_DATA => {
                if c.pe_data.is_some() {
                    return Err(DecodeError::BadOptionValue(OPT_PE_DATA));
                }
                c.pe_data = Some(data.to_vec());
            }
            OPT_PE_NAME => {
                if plen > PE_NAME_MAX || c.pe_name.is_some() {
                    return Err(DecodeError::BadOptionValue(OPT_PE_NAME));
                }
                c.pe_name = Some(data.to_vec());
            }
            _ if ptype == OPT_LOCAL => {
                // Our own optional parameter: a malformed one is ignored like any unknown
                // optional parameter would be by a kernel.
                if plen == 2 + alen && c.local.is_none() {
                    c.local = Some((addr_at(data, 2, af), be16(data, 0)));
                }
            }
            _ => {
                if ptype & OPT_F_PARAM == 0 {
                    return Ok(None);
                }
            }
        }
        p += plen;
    }
    Ok(Some(c))
}

fn decode_v0(buf: &[u8], msg: &mut Message) {
    let end = buf.len();
    let mut p = V0_HEADER_LEN;
    for _ in 0..msg.header.nr_conns {
        if p + V0_CONN_LEN > end {
            msg.error = Some(DecodeError::Truncated);
            return;
        }
        let e = &buf[p..p + V0_CONN_LEN];
        let flags = u32::from(be16(e, 20));
        let mut c = SyncConn {
            af: Af::Inet,
            protocol: e[1],
            flags,
            state: be16(e, 22),
            cport: be16(e, 2),
            vport: be16(e, 4),
            dport: be16(e, 6),
            fwmark: 0,
            timeout: 0,
            caddr: addr_at(e, 8, Af::Inet),
            vaddr: addr_at(e, 12, Af::Inet),
            daddr: addr_at(e, 16, Af::Inet),
            seq: None,
            pe_data: None,
            pe_name: None,
            local: None,
        };
        if flags & F_SEQ_MASK != 0 {
            if p + V0_CONN_LEN + SEQ_LEN > end {
                msg.error = Some(DecodeError::Truncated);
                return;
            }
            // v0 copies `struct ip_vs_seq` in the sender's byte order; every Linux
            // director we know of is little-endian.
            let o = &buf[p + V0_CONN_LEN..p + V0_CONN_LEN + SEQ_LEN];
            let le = |i: usize| u32::from_le_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            let s = |i: usize| SeqAdjust {
                init_seq: le(i),
                delta: le(i + 4),
                previous_delta: le(i + 8),
            };
            c.seq = Some([s(0), s(12)]);
            p += V0_CONN_LEN + SEQ_LEN;
        } else {
            p += V0_CONN_LEN;
        }
        msg.conns.push(c);
    }
}

/// Builds one message, entry by entry, up to a length limit (the sender's `sync_maxlen`),
/// as the kernel fills a sync buffer.
#[derive(Clone, Debug)]
pub struct MessageBuilder {
    version: Version,
    buf: Vec<u8>,
    limit: usize,
    nr: usize,
}

impl MessageBuilder {
    /// An empty message from `syncid` that may grow to `limit` bytes (the first entry is
    /// always accepted, even when it alone is longer, as in `ip_vs_sync_buff_create`).
    pub fn new(version: Version, syncid: u8, limit: usize) -> MessageBuilder {
        let mut buf = Vec::with_capacity(limit.min(65535));
        match version {
            Version::V1 => buf.extend_from_slice(&[0, syncid, 0, 8, 0, SYNC_PROTO_VER, 0, 0]),
            Version::V0 => buf.extend_from_slice(&[0, syncid, 0, 4]),
        }
        MessageBuilder {
            version,
            buf,
            limit,
            nr: 0,
        }
    }

    /// The format.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Entries so far.
    pub fn len(&self) -> usize {
        self.nr
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// Bytes so far.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Whether `c` fits (with the padding before it); `Err` if it cannot be encoded in this
    /// format at all.
    pub fn fits(&self, c: &SyncConn) -> Result<bool, EncodeError> {
        let len = match self.version {
            Version::V1 => c.v1_len()?,
            Version::V0 => c.v0_len()?,
        };
        if self.nr == 0 {
            return Ok(true);
        }
        let pad = (4 - self.buf.len() % 4) % 4;
        Ok(self.nr < MAX_CONNS && self.buf.len() + pad + len <= self.limit.min(65535))
    }

    /// Append `c` if it fits; `Ok(false)` if it does not (start a new message).
    pub fn push(&mut self, c: &SyncConn) -> Result<bool, EncodeError> {
        if !self.fits(c)? {
            return Ok(false);
        }
        match self.version {
            Version::V1 => self.push_v1(c)?,
            Version::V0 => self.push_v0(c),
        }
        self.nr += 1;
        let size = u16::try_from(self.buf.len()).unwrap_or(u16::MAX);
        self.buf[2..4].copy_from_slice(&size.to_be_bytes());
        match self.version {
            Version::V1 => self.buf[4] = self.nr as u8,
            Version::V0 => self.buf[0] = self.nr as u8,
        }
        Ok(true)
    }

    fn push_v1(&mut self, c: &SyncConn) -> Result<(), EncodeError> {
        let len = c.v1_len()?;
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
        let b = &mut self.buf;
        b.push(if c.af == Af::Inet6 { TYPE_F_INET6 } else { 0 });
        b.push(c.protocol);
        b.extend_from_slice(&((len & CONN_LEN_MAX) as u16).to_be_bytes());
        b.extend_from_slice(&c.flags.to_be_bytes());
        b.extend_from_slice(&c.state.to_be_bytes());
        b.extend_from_slice(&c.cport.to_be_bytes());
        b.extend_from_slice(&c.vport.to_be_bytes());
        b.extend_from_slice(&c.dport.to_be_bytes());
        b.extend_from_slice(&c.fwmark.to_be_bytes());
        b.extend_from_slice(&c.timeout.to_be_bytes());
        put_addr(b, &c.caddr, c.af);
        put_addr(b, &c.vaddr, c.af);
        put_addr(b, &c.daddr, c.af);
        if let Some(seq) = &c.seq {
            b.push(OPT_SEQ_DATA);
            b.push(SEQ_LEN as u8);
            for s in seq {
                b.extend_from_slice(&s.init_seq.to_be_bytes());
                b.extend_from_slice(&s.delta.to_be_bytes());
                b.extend_from_slice(&s.previous_delta.to_be_bytes());
            }
        }
        if let Some(d) = &c.pe_data {
            b.push(OPT_PE_DATA);
            b.push(d.len() as u8);
            b.extend_from_slice(d);
            if let Some(n) = &c.pe_name {
                b.push(OPT_PE_NAME);
                b.push(n.len() as u8);
                b.extend_from_slice(n);
            }
        }
        if let Some((laddr, lport)) = &c.local {
            b.push(OPT_LOCAL);
            b.push(2 + if c.af == Af::Inet { 4 } else { 16 });
            b.extend_from_slice(&lport.to_be_bytes());
            put_addr(b, laddr, c.af);
        }
        Ok(())
    }

    fn push_v0(&mut self, c: &SyncConn) {
        let b = &mut self.buf;
        b.push(0);
        b.push(c.protocol);
        b.extend_from_slice(&c.cport.to_be_bytes());
        b.extend_from_slice(&c.vport.to_be_bytes());
        b.extend_from_slice(&c.dport.to_be_bytes());
        put_addr(b, &c.caddr, Af::Inet);
        put_addr(b, &c.vaddr, Af::Inet);
        put_addr(b, &c.daddr, Af::Inet);
        b.extend_from_slice(&(c.flags as u16).to_be_bytes());
        b.extend_from_slice(&c.state.to_be_bytes());
        if c.flags & F_SEQ_MASK != 0 {
            let seq = c.seq.unwrap_or_default();
            for s in &seq {
                b.extend_from_slice(&s.init_seq.to_le_bytes());
                b.extend_from_slice(&s.delta.to_le_bytes());
                b.extend_from_slice(&s.previous_delta.to_le_bytes());
            }
        }
    }

    /// The finished datagram.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Encode `conns` into one message (no length limit beyond the format's). Errors if an
/// entry cannot be encoded or more than [`MAX_CONNS`] are given.
pub fn encode(version: Version, syncid: u8, conns: &[SyncConn]) -> Result<Vec<u8>, EncodeError> {
    let mut m = MessageBuilder::new(version, syncid, 65535);
    for c in conns {
        if !m.push(c)? {
            return Err(EncodeError::TooLong);
        }
    }
    Ok(m.finish())
}
