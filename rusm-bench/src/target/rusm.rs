//! PLACEHOLDER — not compiled yet (see `mod rusm;`, commented out in `target.rs`).
//!
//! The RUSM target: the same scenarios as `raw_tokio.rs`, written the way a RUSM user would.
//! To plug it in:
//!
//! 1. add `rusm = { path = "../rusm" }` to `rusm-bench/Cargo.toml`;
//! 2. uncomment `mod rusm;` and add `pub use self::rusm::RusmTarget;` in `target.rs`
//!    (refer to the crate as `::rusm` inside this module: the module shares its name);
//! 3. return `Ok(Arc::new(RusmTarget::new()))` for `TargetKind::Rusm` in
//!    `TargetKind::build`;
//! 4. implement `Target` below:
//!    - `start_echo_server`: `rusm::tcp::listen` with `opts.addr`, `opts.backlog`,
//!      `opts.reuse_port`, and a connection process running the same echo loop as the tokio
//!      baseline (one `opts.buf_size` buffer per connection);
//!    - `spawn_storm`, `ping_pong`, `idle_processes`, `fan_in`: processes and mailboxes in
//!      place of tasks and channels;
//!    - `restart_storm`: a `one_for_one` supervisor with a high restart intensity over a
//!      `Permanent` child that panics at once; count restarts (e.g. from the tree's counters);
//!    - `alive_processes` and `tree_json` (`Runtime::tree().to_json()`) for the dashboard.
//!
//! Every future runs on a tokio runtime the engine built (2 workers for servers, one per core
//! for process scenarios): spawn onto the ambient runtime.
