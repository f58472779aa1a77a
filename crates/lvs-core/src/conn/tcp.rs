//! IPVS's TCP state machine and per-state timeouts (`ip_vs_proto_tcp.c`, reference §5.4).
//!
//! IPVS does not track TCP the way a stack does: it only watches the flags of the packets
//! it forwards and moves the connection through a small table indexed by direction, the
//! first of RST/SYN/FIN/ACK present in the segment, and the current state. The state then
//! selects the idle timeout the connection is re-armed with after the packet.
//!
//! Directions: [`Direction::Input`] is client → real server, [`Direction::Output`] is the
//! reply (seen only by NAT and FULLNAT), and [`Direction::InputOnly`] is used for input
//! packets while the connection still has `NOOUTPUT` set (DR, TUN, or a NAT connection
//! that has not seen a reply yet); see [`effective_direction`].

use super::ConnFlags;

/// IPVS TCP connection state (`IP_VS_TCP_S_*`), stored in [`super::Conn::state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum TcpState {
    /// `NONE`: just created, nothing seen yet.
    #[default]
    None = 0,
    /// `ESTABLISHED`.
    Established = 1,
    /// `SYN_SENT`: the real server sent a SYN (output direction).
    SynSent = 2,
    /// `SYN_RECV`: the client's SYN was forwarded.
    SynRecv = 3,
    /// `FIN_WAIT`.
    FinWait = 4,
    /// `TIME_WAIT`.
    TimeWait = 5,
    /// `CLOSE`: reset, or a segment with none of SYN/FIN/ACK/RST.
    Close = 6,
    /// `CLOSE_WAIT`.
    CloseWait = 7,
    /// `LAST_ACK`.
    LastAck = 8,
    /// `LISTEN` (FTP data connections waiting for the server).
    Listen = 9,
    /// `SYNACK`: only reachable through the `secure_tcp` table ([`transition_dos`]).
    SynAck = 10,
}

impl TcpState {
    /// Number of states (`IP_VS_TCP_S_LAST`).
    pub const COUNT: usize = 11;

    /// Every state, in numeric order.
    pub const ALL: [TcpState; TcpState::COUNT] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::SynAck,
    ];

    /// The name IPVS prints (`/proc/net/ip_vs_conn`, `ipvsadm -Lc`).
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// The state with numeric value `v` (as stored in [`super::Conn::state`]).
    pub const fn from_u8(v: u8) -> Option<TcpState> {
        if (v as usize) < TcpState::COUNT {
            Some(TcpState::ALL[v as usize])
        } else {
            None
        }
    }

    /// Whether a connection in this state counts in the destination's `activeconns`
    /// (reference §5.5): ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK.
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::SynSent | TcpState::SynRecv | TcpState::SynAck
        )
    }
}

impl core::fmt::Display for TcpState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way a packet travels, choosing the row group of the state table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → real server.
    Input,
    /// Real server → client (only seen for NAT and FULLNAT).
    Output,
    /// Client → real server while the connection has `NOOUTPUT` (no reply seen).
    InputOnly,
}

/// The direction to feed [`transition`] for a packet travelling `dir` on a connection with
/// `flags`, updating `NOOUTPUT` as `set_tcp_state` does: an output packet clears it, an
/// input packet on a connection that has it uses the INPUT-ONLY rows.
pub fn effective_direction(flags: &mut ConnFlags, dir: Direction) -> Direction {
    if flags.has(ConnFlags::NOOUTPUT) {
        if dir == Direction::Output {
            flags.0 &= !ConnFlags::NOOUTPUT;
            Direction::Output
        } else {
            Direction::InputOnly
        }
    } else {
        dir
    }
}

// Short names for the tables below, in the kernel's column order (NONE is never a target).
const ES: TcpState = TcpState::Established;
const SS: TcpState = TcpState::SynSent;
const SR: TcpState = TcpState::SynRecv;
const FW: TcpState = TcpState::FinWait;
const TW: TcpState = TcpState::TimeWait;
const CL: TcpState = TcpState::Close;
const CW: TcpState = TcpState::CloseWait;
const LA: TcpState = TcpState::LastAck;
const LI: TcpState = TcpState::Listen;
const SA: TcpState = TcpState::SynAck;

type Row = [TcpState; TcpState::COUNT];
/// Rows of one direction, by event: syn, fin, ack, rst.
type Block = [Row; 4];

/// The normal table (`tcp_states`), blocks INPUT, OUTPUT, INPUT-ONLY.
/// Columns: NONE ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK
/// LISTEN SYNACK.
#[rustfmt::skip]
const NORMAL: [Block; 3] = [
    [
        /* in  syn */ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /* in  fin */ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        /* in  ack */ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /* in  rst */ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    [
        /* out syn */ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        /* out fin */ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        /* out ack */ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        /* out rst */ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    [
        /* io  syn */ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /* io  fin */ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        /* io  ack */ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /* io  rst */ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

/// The `secure_tcp` defence table (`tcp_states_dos`), same layout as [`NORMAL`].
#[rustfmt::skip]
const DOS: [Block; 3] = [
    [
        /* in  syn */ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
        /* in  fin */ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
        /* in  ack */ [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
        /* in  rst */ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
    [
        /* out syn */ [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
        /* out fin */ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        /* out ack */ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        /* out rst */ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    [
        /* io  syn */ [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
        /* io  fin */ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        /* io  ack */ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /* io  rst */ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

/// Row index of the segment's event: the first of rst, syn, fin, ack (`tcp_state_idx`).
#[inline]
fn event(syn: bool, fin: bool, ack: bool, rst: bool) -> Option<usize> {
    if rst {
        Some(3)
    } else if syn {
        Some(0)
    } else if fin {
        Some(1)
    } else if ack {
        Some(2)
    } else {
        None
    }
}

#[inline]
fn lookup(
    table: &[Block; 3],
    state: TcpState,
    dir: Direction,
    syn: bool,
    fin: bool,
    ack: bool,
    rst: bool,
) -> TcpState {
    let block = match dir {
        Direction::Input => 0,
        Direction::Output => 1,
        Direction::InputOnly => 2,
    };
    match event(syn, fin, ack, rst) {
        Some(ev) => table[block][ev][state as usize],
        None => TcpState::Close,
    }
}

/// The next state after a segment with the given flags travelling `dir` (normal table).
///
/// The event is the first of RST, SYN, FIN, ACK present; a segment with none of them moves
/// the connection to CLOSE. `dir` must already account for `NOOUTPUT`
/// (see [`effective_direction`]).
pub fn transition(
    state: TcpState,
    dir: Direction,
    syn: bool,
    fin: bool,
    ack: bool,
    rst: bool,
) -> TcpState {
    lookup(&NORMAL, state, dir, syn, fin, ack, rst)
}

/// Like [`transition`] but with the `secure_tcp` (≥ 2) defence table `tcp_states_dos`,
/// which keeps half-open connections in SYN_RECV/SYNACK until the handshake completes.
pub fn transition_dos(
    state: TcpState,
    dir: Direction,
    syn: bool,
    fin: bool,
    ack: bool,
    rst: bool,
) -> TcpState {
    lookup(&DOS, state, dir, syn, fin, ack, rst)
}

/// Per-state protocol timeouts, in milliseconds.
///
/// Defaults are the kernel's (reference §5.4). `ipvsadm --set tcp tcpfin udp` changes only
/// ESTABLISHED, FIN_WAIT and UDP ([`Timeouts::set`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    tcp: [u32; TcpState::COUNT],
    udp: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        const S: u32 = 1000;
        Timeouts {
            tcp: [
                2 * S,   // NONE
                900 * S, // ESTABLISHED
                120 * S, // SYN_SENT
                60 * S,  // SYN_RECV
                120 * S, // FIN_WAIT
                120 * S, // TIME_WAIT
                10 * S,  // CLOSE
                60 * S,  // CLOSE_WAIT
                30 * S,  // LAST_ACK
                120 * S, // LISTEN
                120 * S, // SYNACK
            ],
            udp: 300 * S,
        }
    }
}

impl Timeouts {
    /// Idle timeout of a TCP connection in state `s`, milliseconds.
    #[inline]
    pub fn tcp(&self, s: TcpState) -> u32 {
        self.tcp[s as usize]
    }

    /// Idle timeout of a UDP connection, milliseconds.
    #[inline]
    pub fn udp(&self) -> u32 {
        self.udp
    }

    /// Set the timeout of one TCP state, milliseconds.
    pub fn set_tcp_state(&mut self, s: TcpState, ms: u32) {
        self.tcp[s as usize] = ms;
    }

    /// `ipvsadm --set tcp tcpfin udp`: seconds, 0 leaves a value unchanged. `tcp` sets
    /// ESTABLISHED, `tcpfin` sets FIN_WAIT, `udp` the UDP timeout. Values saturate at
    /// `u32::MAX` milliseconds (callers validate against `MAX_TIMEOUT` beforehand).
    pub fn set(&mut self, tcp: u32, tcpfin: u32, udp: u32) {
        let ms = |s: u32| s.saturating_mul(1000);
        if tcp != 0 {
            self.tcp[TcpState::Established as usize] = ms(tcp);
        }
        if tcpfin != 0 {
            self.tcp[TcpState::FinWait as usize] = ms(tcpfin);
        }
        if udp != 0 {
            self.udp = ms(udp);
        }
    }

    /// `(tcp, tcpfin, udp)` in seconds, as `ipvsadm --list --timeout` prints them.
    pub fn get(&self) -> (u32, u32, u32) {
        (
            self.tcp[TcpState::Established as usize] / 1000,
            self.tcp[TcpState::FinWait as usize] / 1000,
            self.udp / 1000,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The §5.4 table of the reference, transcribed as text (kept independent of the
    /// `NORMAL` constant above): direction, event, then the 11 next states in column order.
    const SPEC: &str = "
        INPUT   syn      sSR  sES  sES  sSR  sSR  sSR  sSR  sSR  sSR  sSR  sSR
        INPUT   fin      sCL  sCW  sSS  sTW  sTW  sTW  sCL  sCW  sLA  sLI  sTW
        INPUT   ack      sES  sES  sSS  sES  sFW  sTW  sCL  sCW  sCL  sLI  sES
        INPUT   rst      sCL  sCL  sCL  sSR  sCL  sCL  sCL  sCL  sLA  sLI  sSR
        OUTPUT  syn      sSS  sES  sSS  sSR  sSS  sSS  sSS  sSS  sSS  sLI  sSR
        OUTPUT  fin      sTW  sFW  sSS  sTW  sFW  sTW  sCL  sTW  sLA  sLI  sTW
        OUTPUT  ack      sES  sES  sSS  sES  sFW  sTW  sCL  sCW  sLA  sES  sES
        OUTPUT  rst      sCL  sCL  sSS  sCL  sCL  sTW  sCL  sCL  sCL  sCL  sCL
        IN-ONLY syn      sSR  sES  sES  sSR  sSR  sSR  sSR  sSR  sSR  sSR  sSR
        IN-ONLY fin      sCL  sFW  sSS  sTW  sFW  sTW  sCL  sCW  sLA  sLI  sTW
        IN-ONLY ack      sES  sES  sSS  sES  sFW  sTW  sCL  sCW  sCL  sLI  sES
        IN-ONLY rst      sCL  sCL  sCL  sSR  sCL  sCL  sCL  sCL  sLA  sLI  sCL
    ";

    /// The kernel's `tcp_states_dos`, transcribed the same way.
    const SPEC_DOS: &str = "
        INPUT   syn      sSR  sES  sES  sSR  sSR  sSR  sSR  sSR  sSR  sSR  sSA
        INPUT   fin      sCL  sCW  sSS  sTW  sTW  sTW  sCL  sCW  sLA  sLI  sSA
        INPUT   ack      sES  sES  sSS  sSR  sFW  sTW  sCL  sCW  sCL  sLI  sSA
        INPUT   rst      sCL  sCL  sCL  sSR  sCL  sCL  sCL  sCL  sLA  sLI  sCL
        OUTPUT  syn      sSS  sES  sSS  sSA  sSS  sSS  sSS  sSS  sSS  sLI  sSA
        OUTPUT  fin      sTW  sFW  sSS  sTW  sFW  sTW  sCL  sTW  sLA  sLI  sTW
        OUTPUT  ack      sES  sES  sSS  sES  sFW  sTW  sCL  sCW  sLA  sES  sES
        OUTPUT  rst      sCL  sCL  sSS  sCL  sCL  sTW  sCL  sCL  sCL  sCL  sCL
        IN-ONLY syn      sSA  sES  sES  sSR  sSA  sSA  sSA  sSA  sSA  sSA  sSA
        IN-ONLY fin      sCL  sFW  sSS  sTW  sFW  sTW  sCL  sCW  sLA  sLI  sTW
        IN-ONLY ack      sES  sES  sSS  sES  sFW  sTW  sCL  sCW  sCL  sLI  sES
        IN-ONLY rst      sCL  sCL  sCL  sSR  sCL  sCL  sCL  sCL  sLA  sLI  sCL
    ";

    fn short(s: &str) -> &'static str {
        match s {
            "sNO" => "NONE",
            "sES" => "ESTABLISHED",
            "sSS" => "SYN_SENT",
            "sSR" => "SYN_RECV",
            "sFW" => "FIN_WAIT",
            "sTW" => "TIME_WAIT",
            "sCL" => "CLOSE",
            "sCW" => "CLOSE_WAIT",
            "sLA" => "LAST_ACK",
            "sLI" => "LISTEN",
            "sSA" => "SYNACK",
            other => panic!("bad cell {other}"),
        }
    }

    fn check_table(spec: &str, f: fn(TcpState, Direction, bool, bool, bool, bool) -> TcpState) {
        let mut cells = 0;
        for line in spec.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.len(), 13, "{line}");
            let dir = match words[0] {
                "INPUT" => Direction::Input,
                "OUTPUT" => Direction::Output,
                "IN-ONLY" => Direction::InputOnly,
                d => panic!("bad direction {d}"),
            };
            let (syn, fin, ack, rst) = match words[1] {
                "syn" => (true, false, false, false),
                "fin" => (false, true, false, false),
                "ack" => (false, false, true, false),
                "rst" => (false, false, false, true),
                e => panic!("bad event {e}"),
            };
            for (col, want) in words[2..].iter().enumerate() {
                let from = TcpState::from_u8(col as u8).unwrap();
                let got = f(from, dir, syn, fin, ack, rst);
                assert_eq!(
                    got.name(),
                    short(want),
                    "{:?} {} from {}",
                    dir,
                    words[1],
                    from.name()
                );
                cells += 1;
            }
        }
        assert_eq!(cells, 3 * 4 * 11);
    }

    #[test]
    fn every_cell_of_the_normal_table() {
        check_table(SPEC, transition);
    }

    #[test]
    fn every_cell_of_the_dos_table() {
        check_table(SPEC_DOS, transition_dos);
    }

    #[test]
    fn event_priority_rst_syn_fin_ack() {
        use Direction::*;
        // RST wins over everything.
        assert_eq!(
            transition(TcpState::Established, Input, true, true, true, true),
            TcpState::Close
        );
        // SYN wins over FIN and ACK: SYN+ACK from the server in NONE -> SYN_SENT.
        assert_eq!(
            transition(TcpState::None, Output, true, false, true, false),
            TcpState::SynSent
        );
        // FIN wins over ACK.
        assert_eq!(
            transition(TcpState::Established, Input, false, true, true, false),
            TcpState::CloseWait
        );
        // No flags at all: CLOSE from any state, in every direction and table.
        for s in TcpState::ALL {
            for d in [Input, Output, InputOnly] {
                assert_eq!(
                    transition(s, d, false, false, false, false),
                    TcpState::Close
                );
                assert_eq!(
                    transition_dos(s, d, false, false, false, false),
                    TcpState::Close
                );
            }
        }
    }

    /// Drive a sequence of (direction, flags "SFAR") through the machine with NOOUTPUT
    /// handling, returning every state reached.
    fn run(mut flags: ConnFlags, steps: &[(Direction, &str)]) -> Vec<TcpState> {
        let mut s = TcpState::None;
        let mut out = Vec::new();
        for (dir, f) in steps {
            let d = effective_direction(&mut flags, *dir);
            s = transition(
                s,
                d,
                f.contains('S'),
                f.contains('F'),
                f.contains('A'),
                f.contains('R'),
            );
            out.push(s);
        }
        out
    }

    #[test]
    fn nat_handshake_and_fin_close() {
        use Direction::*;
        use TcpState::*;
        let states = run(
            ConnFlags(0),
            &[
                (Input, "S"),   // client SYN
                (Output, "SA"), // server SYN-ACK
                (Input, "A"),   // client ACK
                (Input, "A"),   // data
                (Output, "A"),  // data
                (Input, "FA"),  // client FIN
                (Output, "A"),  // server ACKs it
                (Output, "FA"), // server FIN
                (Input, "A"),   // client's last ACK
            ],
        );
        assert_eq!(
            states,
            [
                SynRecv,
                SynRecv,
                Established,
                Established,
                Established,
                CloseWait,
                CloseWait,
                TimeWait,
                TimeWait
            ]
        );
    }

    #[test]
    fn nat_server_closes_first() {
        use Direction::*;
        use TcpState::*;
        let states = run(
            ConnFlags(0),
            &[
                (Input, "S"),
                (Output, "SA"),
                (Input, "A"),
                (Output, "FA"),
                (Input, "FA"),
                (Output, "A"),
            ],
        );
        assert_eq!(
            states,
            [SynRecv, SynRecv, Established, FinWait, TimeWait, TimeWait]
        );
    }

    #[test]
    fn dr_input_only_handshake_and_fin_close() {
        use Direction::*;
        use TcpState::*;
        // DR/TUN connections carry NOOUTPUT: every input packet uses the INPUT-ONLY rows.
        let mut flags = ConnFlags(ConnFlags::NOOUTPUT | 3);
        assert_eq!(effective_direction(&mut flags, Input), InputOnly);
        assert!(flags.has(ConnFlags::NOOUTPUT));
        let states = run(
            ConnFlags(ConnFlags::NOOUTPUT | 3),
            &[
                (Input, "S"),
                (Input, "A"),
                (Input, "A"),
                (Input, "FA"),
                (Input, "A"),
            ],
        );
        assert_eq!(
            states,
            [SynRecv, Established, Established, FinWait, FinWait]
        );
        // A second FIN-flagged segment (client retransmits after the server's FIN).
        assert_eq!(
            transition(FinWait, InputOnly, false, true, true, false),
            FinWait
        );
    }

    #[test]
    fn output_clears_nooutput() {
        let mut flags = ConnFlags(ConnFlags::NOOUTPUT);
        assert_eq!(
            effective_direction(&mut flags, Direction::Output),
            Direction::Output
        );
        assert!(!flags.has(ConnFlags::NOOUTPUT));
        assert_eq!(
            effective_direction(&mut flags, Direction::Input),
            Direction::Input
        );
    }

    #[test]
    fn resets() {
        use Direction::*;
        use TcpState::*;
        // Client resets an established NAT connection.
        assert_eq!(
            run(
                ConnFlags(0),
                &[(Input, "S"), (Output, "SA"), (Input, "A"), (Input, "R")]
            )[3],
            Close
        );
        // Server refuses the SYN: RST from SYN_RECV in OUTPUT -> CLOSE.
        assert_eq!(
            run(ConnFlags(0), &[(Input, "S"), (Output, "RA")]),
            [SynRecv, Close]
        );
        // RST from the client in SYN_RECV keeps SYN_RECV (INPUT rst row).
        assert_eq!(
            transition(SynRecv, Input, false, false, false, true),
            SynRecv
        );
        // DR: RST while established.
        assert_eq!(
            transition(Established, InputOnly, false, false, true, true),
            Close
        );
    }

    #[test]
    fn names_numbers_activity() {
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(TcpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(TcpState::from_u8(11), None);
        assert_eq!(TcpState::SynAck.name(), "SYNACK");
        assert_eq!(TcpState::CloseWait.to_string(), "CLOSE_WAIT");
        let active: Vec<_> = TcpState::ALL
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.name())
            .collect();
        assert_eq!(active, ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "SYNACK"]);
    }

    #[test]
    fn timeouts_defaults_and_set() {
        let mut t = Timeouts::default();
        let secs: Vec<u32> = TcpState::ALL.iter().map(|s| t.tcp(*s) / 1000).collect();
        assert_eq!(secs, [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120]);
        assert_eq!(t.udp(), 300_000);
        assert_eq!(t.get(), (900, 120, 300));
        t.set(0, 30, 0);
        assert_eq!(t.get(), (900, 30, 300));
        assert_eq!(t.tcp(TcpState::FinWait), 30_000);
        t.set(3600, 0, 10);
        assert_eq!(t.get(), (3600, 30, 10));
        assert_eq!(
            t.tcp(TcpState::TimeWait),
            120_000,
            "--set leaves TIME_WAIT alone"
        );
        t.set_tcp_state(TcpState::Close, 5);
        assert_eq!(t.tcp(TcpState::Close), 5);
    }
}
