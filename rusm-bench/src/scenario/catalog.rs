//! The scenarios by name: [`Scenario`], the value of `rusm-bench run <scenario>`, with its CLI
//! name, its line in `list`, its headline figure and how many runs it makes by default.

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Ramp of connect → echo → close loops, then hold; sustained connections/s.
    ConnectionStorm,
    /// N concurrent idle connections; bytes per connection, and what kernel limit stopped it.
    Hold,
    /// C connections × S-byte request/response; requests/s, MB/s, p99.
    EchoThroughput,
    /// Spawn 1,000,000 processes that exit at once; spawns/s.
    SpawnStorm,
    /// Two processes exchange a u64 1,000,000 times; round trips/s.
    PingPong,
    /// 100,000 processes blocked on receive; bytes per process.
    IdleMemory,
    /// 100 senders × 10,000 messages to one process; messages/s.
    FanIn,
    /// A supervisor restarting a child that crashes at once; restarts/s.
    RestartStorm,
    /// 50 clients × 16 calls in flight to one gen_server holding a map; calls/s.
    ServerCall,
    /// One message at a time to a group of 10,000 processes; deliveries/s.
    Broadcast,
    /// connect → full TLS handshake → echo 16 B → close loops; connections/s.
    TlsHandshakeStorm,
    /// C TLS connections × S-byte request/response; requests/s.
    TlsEcho,
}

impl Scenario {
    /// Every scenario, in `list` order.
    pub const ALL: [Scenario; 12] = [
        Scenario::ConnectionStorm,
        Scenario::Hold,
        Scenario::EchoThroughput,
        Scenario::SpawnStorm,
        Scenario::PingPong,
        Scenario::IdleMemory,
        Scenario::FanIn,
        Scenario::RestartStorm,
        Scenario::ServerCall,
        Scenario::Broadcast,
        Scenario::TlsHandshakeStorm,
        Scenario::TlsEcho,
    ];

    /// The CLI name, e.g. `connection-storm`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ConnectionStorm => "connection-storm",
            Scenario::Hold => "hold",
            Scenario::EchoThroughput => "echo-throughput",
            Scenario::SpawnStorm => "spawn-storm",
            Scenario::PingPong => "ping-pong",
            Scenario::IdleMemory => "idle-memory",
            Scenario::FanIn => "fan-in",
            Scenario::RestartStorm => "restart-storm",
            Scenario::ServerCall => "server-call",
            Scenario::Broadcast => "broadcast",
            Scenario::TlsHandshakeStorm => "tls-handshake-storm",
            Scenario::TlsEcho => "tls-echo",
        }
    }

    /// Looks a scenario up by its CLI name.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// One line for `list`: what it does and which flags change it.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::ConnectionStorm => {
                "ramp of connector loops (connect, echo 16 B, close with SO_LINGER(0)) over the \
                 first 20%, then hold; sustained conn/s, latency p50/p99/max, peak concurrent, \
                 errors [--concurrency loops=16, --sources, --server-process]"
            }
            Scenario::Hold => {
                "open N idle connections from 127.0.0.x, check each still echoes after the hold; \
                 server bytes/connection from RSS [--connections N=10000, --server-process]"
            }
            Scenario::EchoThroughput => {
                "C connections doing request/response of S bytes; req/s, MB/s, p99 \
                 [--connections C=64, --size S=64]"
            }
            Scenario::SpawnStorm => {
                "spawn processes that exit at once, wait for all, vs tokio task + mpsc and a bare \
                 tokio::spawn; spawns/s [--count 1000000, --runs 5]"
            }
            Scenario::PingPong => {
                "two processes exchange a u64 over their mailboxes, vs tokio tasks + mpsc made per \
                 process and made up front; round trips/s [--count 1000000, --runs 5]"
            }
            Scenario::IdleMemory => {
                "processes blocked on receive, vs tokio tasks blocked on an mpsc and bare parked \
                 tasks; bytes/process from RSS [--count 100000, --runs 5]"
            }
            Scenario::FanIn => {
                "senders × messages to one process, vs tokio tasks with an mpsc each and sharing \
                 one; msgs/s [--concurrency senders=100, --count 10000, --runs 5]"
            }
            Scenario::RestartStorm => {
                "a child that panics at once, restarted by its supervisor; restarts/s \
                 [--count bound 10000000]"
            }
            Scenario::ServerCall => {
                "50 client processes each keeping N calls in flight to one server holding a map, \
                 vs a tokio actor (mpsc + oneshot + timeout) and an Arc<Mutex<HashMap>>; calls/s \
                 [--concurrency in-flight N=16, --count calls per client 50000, --runs 5]"
            }
            Scenario::Broadcast => {
                "one frame at a time to a pg group of connection-shaped processes, vs a tokio \
                 loop over unbounded senders; deliveries/s [--connections members=10000, \
                 --count broadcasts 500, --size 64, --runs 5]"
            }
            Scenario::TlsHandshakeStorm => {
                "connection-storm over TLS (rustls, ECDSA P-256, no resumption): connect, full \
                 handshake, echo 16 B, close; vs raw tokio-rustls with the handshake in each \
                 connection's task; conn/s [--concurrency loops=16, --sources, --runs 5]"
            }
            Scenario::TlsEcho => {
                "echo-throughput over TLS: C connections, handshakes done first; req/s vs raw \
                 tokio-rustls [--connections C=64, --size S=64, --runs 5]"
            }
        }
    }

    /// The headline figure the ratio is computed on, and whether higher is better.
    pub fn primary(self) -> (&'static str, bool) {
        match self {
            Scenario::ConnectionStorm => ("conns_per_s", true),
            Scenario::Hold => ("server_bytes_per_conn", false),
            Scenario::EchoThroughput => ("requests_per_s", true),
            Scenario::SpawnStorm => ("spawns_per_s", true),
            Scenario::PingPong => ("round_trips_per_s", true),
            Scenario::IdleMemory => ("bytes_per_process", false),
            Scenario::FanIn => ("msgs_per_s", true),
            Scenario::RestartStorm => ("restarts_per_s", true),
            Scenario::ServerCall => ("calls_per_s", true),
            Scenario::Broadcast => ("deliveries_per_s", true),
            Scenario::TlsHandshakeStorm => ("conns_per_s", true),
            Scenario::TlsEcho => ("requests_per_s", true),
        }
    }

    /// How many interleaved runs `run` makes unless `--runs` says: 5 for the scenarios with
    /// several baselines, 1 for the others (whose docs repeat them from the shell).
    pub fn default_runs(self) -> usize {
        match self {
            Scenario::SpawnStorm
            | Scenario::PingPong
            | Scenario::IdleMemory
            | Scenario::FanIn
            | Scenario::ServerCall
            | Scenario::Broadcast
            | Scenario::TlsHandshakeStorm
            | Scenario::TlsEcho => 5,
            _ => 1,
        }
    }

    /// Whether the scenario uses TCP (and so an echo server).
    pub fn is_tcp(self) -> bool {
        matches!(
            self,
            Scenario::ConnectionStorm
                | Scenario::Hold
                | Scenario::EchoThroughput
                | Scenario::TlsHandshakeStorm
                | Scenario::TlsEcho
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_round_trips_through_its_name() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
            let value = <Scenario as clap::ValueEnum>::to_possible_value(&s).unwrap();
            assert_eq!(value.get_name(), s.name(), "clap name matches");
        }
        assert_eq!(Scenario::from_name("nope"), None);
    }
}
