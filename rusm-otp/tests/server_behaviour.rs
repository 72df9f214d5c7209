//! Ensures servers follow gen_server: typed calls, casts and info in mailbox order; deferred
//! replies from another callback or process; init's ok/continue/ignore/stop; terminate exactly
//! when OTP runs it; calls that end with NoProc, Exited or Timeout when they should; linked,
//! named and supervised starts; timers through ServerCtx.
#[path = "support/lib.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rusm_otp::server::{Call, Caller, Cast, Init, Next, Reply, Server, ServerCtx};
use rusm_otp::{
    CallError, ChildSpec, Ctx, ExitReason, Msg, Pid, RegisterError, Runtime, SendError, ServerRef,
    StartError, Strategy, SupervisorSpec, DEFAULT_CALL_TIMEOUT,
};
use support::{quiet_panics, within};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

/// What a [`Probe`] reports, in the order it happens.
#[derive(Debug, PartialEq)]
enum Event {
    Init(Pid),
    /// `handle_continue` ran; the count at that moment.
    Continued(u64),
    /// `handle_info` got this plain message.
    Info(u64),
    /// A `Park` call is held, unanswered.
    Parked,
    /// `terminate` ran with this reason.
    Terminated(ExitReason),
}

#[derive(Clone)]
enum Start {
    Ok,
    Continue,
    Ignore,
    Stop(ExitReason),
    Panic,
}

#[derive(Clone)]
struct Args {
    start: Start,
    trap: bool,
    events: mpsc::UnboundedSender<Event>,
    /// `handle_continue` waits for it before it reports.
    continue_gate: Option<Arc<Notify>>,
    /// `terminate` waits for it after it reported.
    terminate_gate: Option<Arc<Notify>>,
}

fn args(start: Start) -> (Args, mpsc::UnboundedReceiver<Event>) {
    let (events, rx) = mpsc::unbounded_channel();
    let args = Args {
        start,
        trap: false,
        events,
        continue_gate: None,
        terminate_gate: None,
    };
    (args, rx)
}

fn trapping(start: Start) -> (Args, mpsc::UnboundedReceiver<Event>) {
    let (a, rx) = args(start);
    (Args { trap: true, ..a }, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    within("a probe event", rx.recv())
        .await
        .expect("the probe's event channel is open")
}

/// A server with a count, calls it holds unanswered, and reports of its callbacks.
struct Probe {
    n: u64,
    parked: Vec<Caller<u64>>,
    args: Args,
}

impl Probe {
    fn report(&self, e: Event) {
        let _ = self.args.events.send(e);
    }
}

impl Server for Probe {
    type Args = Args;
    type Info = u64;

    async fn init(args: Args, ctx: &mut ServerCtx<Self>) -> Init<Self> {
        if args.trap {
            ctx.trap_exit(true);
        }
        let _ = args.events.send(Event::Init(ctx.pid()));
        let start = args.start.clone();
        let probe = Probe {
            n: 0,
            parked: Vec::new(),
            args,
        };
        match start {
            Start::Ok => Init::Ok(probe),
            Start::Continue => Init::Continue(probe),
            Start::Ignore => Init::Ignore,
            Start::Stop(reason) => Init::Stop(reason),
            Start::Panic => {
                quiet_panics();
                panic!("init panicked")
            }
        }
    }

    async fn handle_info(&mut self, msg: Msg<u64>, _ctx: &mut ServerCtx<Self>) -> Next {
        if let Msg::User(v) = msg {
            self.n += v;
            self.report(Event::Info(v));
        }
        Next::Noreply
    }

    async fn handle_continue(&mut self, _ctx: &mut ServerCtx<Self>) -> Next {
        if let Some(gate) = &self.args.continue_gate {
            gate.notified().await;
        }
        self.report(Event::Continued(self.n));
        self.n += 100;
        Next::Noreply
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut ServerCtx<Self>) {
        self.report(Event::Terminated(reason.clone()));
        if let Some(gate) = &self.args.terminate_gate {
            gate.notified().await;
        }
    }
}

/// The count.
#[derive(Debug, PartialEq)]
struct Get;
impl Call<Get> for Probe {
    type Reply = u64;
    async fn handle_call(
        &mut self,
        _: Get,
        _: &Caller<u64>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u64> {
        Reply::Reply(self.n)
    }
}

/// Adds to the count.
struct Add(u64);
impl Cast<Add> for Probe {
    async fn handle_cast(&mut self, Add(v): Add, _: &mut ServerCtx<Self>) -> Next {
        self.n += v;
        Next::Noreply
    }
}

/// Held without a reply until `Answer` or `DropParked`.
#[derive(Debug, PartialEq)]
struct Park;
impl Call<Park> for Probe {
    type Reply = u64;
    async fn handle_call(
        &mut self,
        _: Park,
        c: &Caller<u64>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u64> {
        self.parked.push(c.clone());
        self.report(Event::Parked);
        Reply::Noreply
    }
}

/// Answers every parked call with the value; replies with what each `Caller::reply` returned.
struct Answer(u64);
impl Call<Answer> for Probe {
    type Reply = Vec<bool>;
    async fn handle_call(
        &mut self,
        Answer(v): Answer,
        _: &Caller<Vec<bool>>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<Vec<bool>> {
        Reply::Reply(self.parked.drain(..).map(|c| c.reply(v)).collect())
    }
}

/// Lets go of every parked call without answering it.
struct DropParked;
impl Cast<DropParked> for Probe {
    async fn handle_cast(&mut self, _: DropParked, _: &mut ServerCtx<Self>) -> Next {
        self.parked.clear();
        Next::Noreply
    }
}

/// Answered with its value by another process, after the callback returned.
struct HandOff(u64);
impl Call<HandOff> for Probe {
    type Reply = u64;
    async fn handle_call(
        &mut self,
        HandOff(v): HandOff,
        c: &Caller<u64>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<u64> {
        let caller = c.clone();
        ctx.spawn(move |_: Ctx| async move {
            assert!(caller.reply(v), "the caller still waits");
        });
        Reply::Noreply
    }
}

/// Sends the value to itself as info after the delay.
struct Later(u64, Duration);
impl Call<Later> for Probe {
    type Reply = ();
    async fn handle_call(
        &mut self,
        Later(v, d): Later,
        _: &Caller<()>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<()> {
        ctx.send_after(v, d);
        Reply::Reply(())
    }
}

/// Replies with the count and stops with the reason.
struct StopWith(ExitReason);
impl Call<StopWith> for Probe {
    type Reply = u64;
    async fn handle_call(
        &mut self,
        StopWith(r): StopWith,
        _: &Caller<u64>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u64> {
        Reply::Stop(r, Some(self.n))
    }
}

/// Replies with the count, then continues.
struct Bump;
impl Call<Bump> for Probe {
    type Reply = u64;
    async fn handle_call(
        &mut self,
        _: Bump,
        _: &Caller<u64>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u64> {
        Reply::Continue(self.n)
    }
}

/// Panics in the callback.
#[derive(Debug, PartialEq)]
struct Crash;
impl Call<Crash> for Probe {
    type Reply = u64;
    async fn handle_call(
        &mut self,
        _: Crash,
        _: &Caller<u64>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<u64> {
        quiet_panics();
        panic!("call crashed")
    }
}
impl Cast<Crash> for Probe {
    async fn handle_cast(&mut self, _: Crash, _: &mut ServerCtx<Self>) -> Next {
        quiet_panics();
        panic!("cast crashed")
    }
}

/// The server's parent, as its context sees it.
struct Parent;
impl Call<Parent> for Probe {
    type Reply = Option<Pid>;
    async fn handle_call(
        &mut self,
        _: Parent,
        _: &Caller<Option<Pid>>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<Option<Pid>> {
        Reply::Reply(ctx.parent())
    }
}

/// A request that carries data, to see it given back.
#[derive(Debug, PartialEq)]
struct Echo(String);
impl Call<Echo> for Probe {
    type Reply = String;
    async fn handle_call(
        &mut self,
        Echo(s): Echo,
        _: &Caller<String>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<String> {
        Reply::Reply(s)
    }
}

/// Another server type, for lookups by the wrong type.
struct Other;
impl Server for Other {
    type Args = ();
    type Info = ();
    async fn init(_: (), _: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Other)
    }
}

/// On the paused clock, `since` was `expected` ago (give or take the timer wheel's 1 ms).
fn assert_took(since: Instant, expected: Duration) {
    let took = since.elapsed();
    assert!(
        took >= expected && took <= expected + Duration::from_millis(1),
        "expected {expected:?}, took {took:?}"
    );
}

async fn start(rt: &Runtime, args: Args) -> ServerRef<Probe> {
    within("the server's start", rt.start_server::<Probe>(args))
        .await
        .expect("the probe starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_casts_and_info_are_handled_in_mailbox_order() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    assert_eq!(next(&mut rx).await, Event::Init(s.pid()));
    s.cast(Add(2)).unwrap();
    s.send(3).unwrap();
    let n: u64 = within("the reply", s.call(Get)).await.unwrap();
    assert_eq!(n, 5);
    assert_eq!(next(&mut rx).await, Event::Info(3));
    let echoed: String = within("the reply", s.call(Echo("hi".into())))
        .await
        .unwrap();
    assert_eq!(echoed, "hi");
    assert_eq!(s.stop(ExitReason::Normal).await, ExitReason::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_reply_from_another_callback() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let parked = tokio::spawn({
        let s = s.clone();
        async move { s.call(Park).await }
    });
    assert_eq!(next(&mut rx).await, Event::Parked);
    // The server is free while the first call waits: it takes the next call and answers both.
    assert_eq!(
        within("answer", s.call(Answer(7))).await.unwrap(),
        vec![true]
    );
    assert_eq!(within("the parked call", parked).await.unwrap().unwrap(), 7);
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_reply_from_another_process() {
    let rt = Runtime::attach();
    let (a, _rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    assert_eq!(
        within("the handed-off reply", s.call(HandOff(9)))
            .await
            .unwrap(),
        9
    );
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_stop_fails_the_start_with_its_reason() {
    let rt = Runtime::attach();
    let reason = ExitReason::error("no config");
    let (a, mut rx) = args(Start::Stop(reason.clone()));
    let err = within("the start", rt.start_server::<Probe>(a))
        .await
        .unwrap_err();
    assert_eq!(err, StartError::Failed(reason));
    let Event::Init(pid) = next(&mut rx).await else {
        panic!("init reports first")
    };
    // A failed init is not a running server: terminate does not run, nothing is left alive.
    assert!(rx.try_recv().is_err());
    assert!(rt.process(pid).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_init_fails_the_start_with_the_panic() {
    let rt = Runtime::attach();
    let (a, _rx) = args(Start::Panic);
    let err = within("the start", rt.start_server::<Probe>(a))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StartError::Failed(ExitReason::Panic("init panicked".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_init_starts_nothing_and_frees_the_name() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ignore);
    let err = within("the start", rt.start_server_named::<Probe>("ignored", a))
        .await
        .unwrap_err();
    assert_eq!(err, StartError::Ignored);
    let Event::Init(pid) = next(&mut rx).await else {
        panic!("init reports first")
    };
    assert!(rt.process(pid).is_none());
    assert!(rt.whereis("ignored").is_none());
    assert!(rt.whereis_server::<Probe>("ignored").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_continue_runs_handle_continue_before_the_next_message() {
    let rt = Runtime::attach();
    let gate = Arc::new(Notify::new());
    let (a, mut rx) = args(Start::Continue);
    let a = Args {
        continue_gate: Some(gate.clone()),
        ..a
    };
    let s = start(&rt, a).await;
    next(&mut rx).await;
    // Queued while handle_continue is held: handled only after it.
    s.cast(Add(1)).unwrap();
    s.send(2).unwrap();
    gate.notify_one();
    assert_eq!(next(&mut rx).await, Event::Continued(0));
    assert_eq!(next(&mut rx).await, Event::Info(2));
    assert_eq!(within("the count", s.call(Get)).await.unwrap(), 103);
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_continue_replies_then_continues_before_the_next_message() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    s.cast(Add(5)).unwrap();
    assert_eq!(within("bump", s.call(Bump)).await.unwrap(), 5);
    assert_eq!(within("the count", s.call(Get)).await.unwrap(), 105);
    assert_eq!(next(&mut rx).await, Event::Continued(5));
    s.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_stop_replies_before_terminate_runs() {
    let rt = Runtime::attach();
    let gate = Arc::new(Notify::new());
    let (a, mut rx) = args(Start::Ok);
    let a = Args {
        terminate_gate: Some(gate.clone()),
        ..a
    };
    let s = start(&rt, a).await;
    next(&mut rx).await;
    s.cast(Add(4)).unwrap();
    let reason = ExitReason::shutdown_with("done");
    // terminate is held until the gate opens, which happens only after the reply came.
    let r = within("the stop reply", s.call(StopWith(reason.clone()))).await;
    assert_eq!(r.unwrap(), 4);
    assert_eq!(next(&mut rx).await, Event::Terminated(reason.clone()));
    assert!(s.is_alive(), "terminate is still held");
    gate.notify_one();
    assert_eq!(within("the exit", s.wait()).await, reason);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn terminate_runs_when_a_callback_panics_and_the_caller_sees_the_exit_at_once() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let t = Instant::now();
    // The clock is paused: a caller left waiting for its timeout would get Timeout instead.
    let err = s.call(Crash).await.unwrap_err();
    let panic = ExitReason::Panic("call crashed".into());
    assert_eq!(err, CallError::Exited(s.pid(), panic.clone()));
    assert!(t.elapsed() < DEFAULT_CALL_TIMEOUT);
    assert_eq!(next(&mut rx).await, Event::Terminated(panic.clone()));
    assert_eq!(s.wait().await, panic);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_runs_when_a_cast_panics() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    s.cast(Crash).unwrap();
    let panic = ExitReason::Panic("cast crashed".into());
    assert_eq!(within("the exit", s.wait()).await, panic);
    assert_eq!(next(&mut rx).await, Event::Terminated(panic));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_runs_on_stop_before_stop_returns() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let reason = ExitReason::shutdown_with("bye");
    assert_eq!(within("stop", s.stop(reason.clone())).await, reason);
    assert_eq!(rx.try_recv().ok(), Some(Event::Terminated(reason.clone())));
    // Stopping a dead server returns the reason it died with.
    assert_eq!(s.stop(ExitReason::Normal).await, reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_runs_on_supervisor_shutdown_when_trapping_exits() {
    let rt = Runtime::attach();
    let (a, mut rx) = trapping(Start::Ok);
    let sup = within(
        "the supervisor's start",
        rt.start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::server::<Probe>("probe", a)),
        ),
    )
    .await
    .unwrap();
    let Event::Init(pid) = next(&mut rx).await else {
        panic!("init reports first")
    };
    assert_eq!(sup.child_pid("probe"), Some(pid));
    within("the supervisor's stop", sup.stop()).await;
    assert_eq!(
        rx.try_recv().ok(),
        Some(Event::Terminated(ExitReason::Shutdown(None)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_does_not_run_on_supervisor_shutdown_without_trapping_exits() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let sup = within(
        "the supervisor's start",
        rt.start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::server::<Probe>("probe", a)),
        ),
    )
    .await
    .unwrap();
    let Event::Init(pid) = next(&mut rx).await else {
        panic!("init reports first")
    };
    let server = rt.process(pid).expect("the server runs");
    within("the supervisor's stop", sup.stop()).await;
    assert_eq!(server.wait().await, ExitReason::Shutdown(None));
    assert!(rx.try_recv().is_err(), "terminate ran without trap_exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_does_not_run_on_kill_even_when_trapping_exits() {
    let rt = Runtime::attach();
    let (a, mut rx) = trapping(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    s.kill();
    assert_eq!(within("the exit", s.wait()).await, ExitReason::Killed);
    assert!(rx.try_recv().is_err(), "terminate ran on kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_dead_server_are_given_back() {
    let rt = Runtime::attach();
    let (a, _rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    within("stop", s.stop(ExitReason::Normal)).await;
    let err = s.call(Echo("hello".into())).await.unwrap_err();
    assert_eq!(err, CallError::NoProc(s.pid(), Echo("hello".into())));
    assert_eq!(err.into_request(), Some(Echo("hello".into())));
    let SendError(Add(v)) = s.cast(Add(5)).unwrap_err();
    assert_eq!(v, 5);
    assert_eq!(s.send(3), Err(SendError(3)));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn call_to_a_server_killed_while_holding_it_ends_with_exited_at_once() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let t = Instant::now();
    let call = tokio::spawn({
        let s = s.clone();
        async move { s.call(Park).await }
    });
    assert_eq!(next(&mut rx).await, Event::Parked);
    s.kill();
    // The clock is paused: a caller left waiting for its timeout would get Timeout instead.
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err, CallError::Exited(s.pid(), ExitReason::Killed));
    assert!(t.elapsed() < DEFAULT_CALL_TIMEOUT);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn call_timeout_to_a_server_that_never_replies_times_out_and_drops_the_late_reply() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let t = Instant::now();
    let r = s.call_timeout(Park, Duration::from_millis(50)).await;
    assert_eq!(r, Err(CallError::Timeout));
    assert_took(t, Duration::from_millis(50));
    assert!(s.is_alive());
    // The late reply finds nobody waiting.
    assert_eq!(s.call(Answer(1)).await.unwrap(), vec![false]);
    s.kill();
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn call_timeout_counts_from_the_call_when_the_server_lets_go_without_replying() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let t = Instant::now();
    let call = tokio::spawn({
        let s = s.clone();
        async move { s.call_timeout(Park, Duration::from_millis(100)).await }
    });
    assert_eq!(next(&mut rx).await, Event::Parked);
    // 80 ms into the call the server drops the caller; it lives on, so the call times out,
    // 100 ms after it was made.
    tokio::time::sleep(Duration::from_millis(80)).await;
    s.cast(DropParked).unwrap();
    assert_eq!(call.await.unwrap(), Err(CallError::Timeout));
    assert_took(t, Duration::from_millis(100));
    s.kill();
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn call_with_duration_max_waits_as_long_as_it_takes() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    assert_eq!(s.call_timeout(Get, Duration::MAX).await, Ok(0));
    let call = tokio::spawn({
        let s = s.clone();
        async move { s.call_timeout(Park, Duration::MAX).await }
    });
    assert_eq!(next(&mut rx).await, Event::Parked);
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert!(!call.is_finished());
    assert_eq!(s.call(Answer(5)).await.unwrap(), vec![true]);
    assert_eq!(call.await.unwrap(), Ok(5));
    s.kill();
}

/// A process that starts a linked probe, hands it over, and exits with `reason` when told.
fn parent_of(
    rt: &Runtime,
    a: Args,
    reason: ExitReason,
) -> (
    rusm_otp::Addr<()>,
    tokio::sync::oneshot::Receiver<ServerRef<Probe>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = rt.spawn(move |mut ctx: Ctx<()>| async move {
        let server = ctx
            .start_server_link::<Probe>(a)
            .await
            .expect("the probe starts");
        let _ = tx.send(server);
        ctx.recv_user().await;
        reason
    });
    (parent, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_server_link_parent_exit_terminates_a_trapping_server() {
    let rt = Runtime::attach();
    let (a, mut rx) = trapping(Start::Ok);
    let reason = ExitReason::shutdown_with("parent done");
    let (parent, server) = parent_of(&rt, a, reason.clone());
    let server = within("the linked server", server).await.unwrap();
    next(&mut rx).await;
    assert_eq!(
        within("parent", server.call(Parent)).await.unwrap(),
        Some(parent.pid())
    );
    parent.send(()).unwrap();
    assert_eq!(within("the server's exit", server.wait()).await, reason);
    assert_eq!(rx.try_recv().ok(), Some(Event::Terminated(reason)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_server_link_parent_exit_stops_a_non_trapping_server_without_terminate() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let reason = ExitReason::error("parent failed");
    let (parent, server) = parent_of(&rt, a, reason.clone());
    let server = within("the linked server", server).await.unwrap();
    next(&mut rx).await;
    parent.send(()).unwrap();
    assert_eq!(within("the server's exit", server.wait()).await, reason);
    assert!(rx.try_recv().is_err(), "terminate ran without trap_exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_server_link_init_failure_is_returned_not_sent_as_an_exit_signal() {
    let rt = Runtime::attach();
    let (a, _rx) = args(Start::Stop(ExitReason::error("bad args")));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = rt.spawn(move |mut ctx: Ctx<()>| async move {
        let r = ctx.start_server_link::<Probe>(a).await.map(|_| ());
        let _ = tx.send(r);
        ctx.recv_user().await;
    });
    let r = within("the linked start", rx).await.unwrap();
    assert_eq!(r, Err(StartError::Failed(ExitReason::error("bad args"))));
    assert!(parent.is_alive());
    parent.send(()).unwrap();
    assert_eq!(
        within("the parent's exit", parent.wait()).await,
        ExitReason::Normal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_server_is_found_by_its_type() {
    let rt = Runtime::attach();
    let (a, _rx) = args(Start::Ok);
    let s = within("start", rt.start_server_named::<Probe>("probe", a))
        .await
        .unwrap();
    let found = rt.whereis_server::<Probe>("probe").expect("found by name");
    assert_eq!(found.pid(), s.pid());
    found.cast(Add(3)).unwrap();
    assert_eq!(within("the count", s.call(Get)).await.unwrap(), 3);
    // The wrong server type finds nothing rather than misdelivering.
    assert!(rt.whereis_server::<Other>("probe").is_none());
    let (a2, _rx2) = args(Start::Ok);
    let taken = within("start", rt.start_server_named::<Probe>("probe", a2)).await;
    assert_eq!(
        taken.unwrap_err(),
        StartError::Register(RegisterError::Taken {
            name: "probe".into(),
            pid: s.pid()
        })
    );
    within("stop", s.stop(ExitReason::Normal)).await;
    assert!(rt.whereis_server::<Probe>("probe").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervised_named_server_is_found_by_name_across_a_restart() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(ChildSpec::server::<Probe>("probe", a).name("probe"));
    let sup = within("the supervisor's start", rt.start_supervisor(spec))
        .await
        .unwrap();
    let Event::Init(first) = next(&mut rx).await else {
        panic!("init reports first")
    };
    let s = rt.whereis_server::<Probe>("probe").expect("found by name");
    assert_eq!(s.pid(), first);
    s.kill();
    // The restarted server's init runs with the name already registered to it.
    let Event::Init(second) = next(&mut rx).await else {
        panic!("the restart's init reports")
    };
    assert_ne!(second, first);
    let s2 = rt
        .whereis_server::<Probe>("probe")
        .expect("found by name after the restart");
    assert_eq!(s2.pid(), second);
    assert_eq!(within("the count", s2.call(Get)).await.unwrap(), 0);
    within("the supervisor's stop", sup.stop()).await;
    assert!(rt.whereis_server::<Probe>("probe").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervised_server_init_failure_is_a_failed_start() {
    let rt = Runtime::attach();
    let reason = ExitReason::error("no port");
    let (a, _rx) = args(Start::Stop(reason.clone()));
    let spec =
        SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::server::<Probe>("probe", a));
    let err = within("the supervisor's start", rt.start_supervisor(spec))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StartError::FailedToStartChild {
            id: "probe".into(),
            reason: Box::new(StartError::Failed(reason)),
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervised_server_ignore_keeps_the_child_not_running() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ignore);
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(ChildSpec::server::<Probe>("probe", a).name("probe"));
    let sup = within("the supervisor's start", rt.start_supervisor(spec))
        .await
        .unwrap();
    let Event::Init(pid) = next(&mut rx).await else {
        panic!("init reports first")
    };
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].pid, None);
    assert!(rt.process(pid).is_none());
    assert!(rt.whereis_server::<Probe>("probe").is_none());
    within("the supervisor's stop", sup.stop()).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn send_after_delivers_info_after_the_delay() {
    let rt = Runtime::attach();
    let (a, mut rx) = args(Start::Ok);
    let s = start(&rt, a).await;
    next(&mut rx).await;
    let t = Instant::now();
    s.call(Later(4, Duration::from_secs(2))).await.unwrap();
    assert_eq!(s.call(Get).await.unwrap(), 0, "not before the delay");
    assert_eq!(next(&mut rx).await, Event::Info(4));
    assert!(t.elapsed() >= Duration::from_secs(2));
    assert_eq!(s.call(Get).await.unwrap(), 4);
    s.kill();
}
