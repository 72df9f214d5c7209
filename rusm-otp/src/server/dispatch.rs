//! How a call or a cast reaches its handler: the typed glue between a request and the
//! `Call`/`Cast` impl it was checked against.

use std::any::Any;
use std::sync::Arc;

use super::behaviour::{BoxFuture, CallDispatch, CallEnvelope, CastDispatch, Envelope, Kind};
use super::behaviour::{Call, Cast, Next, Reply, Server, ServerCtx};
use super::caller::{CallCell, Caller, ReplySlot};

impl<Req: Send + 'static, R: Send + 'static> CallCell<Req, R> {
    pub(crate) fn envelope<S: Call<Req, Reply = R>>(self: &Arc<Self>) -> Envelope<S> {
        Envelope(Kind::Call(CallEnvelope(Some(self.clone()))))
    }
}

impl<S, Req> CallDispatch<S> for CallCell<Req, S::Reply>
where
    S: Call<Req>,
    Req: Send + 'static,
{
    fn dispatch<'a>(
        self: Arc<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next> {
        let req = self.take_request();
        let caller = Caller::new(self);
        Box::pin(async move {
            let Some(req) = req else {
                return Next::Noreply;
            };
            match server.handle_call(req, &caller, ctx).await {
                Reply::Reply(r) => {
                    caller.reply(r);
                    Next::Noreply
                }
                Reply::Continue(r) => {
                    caller.reply(r);
                    Next::Continue
                }
                Reply::Noreply => Next::Noreply,
                Reply::Stop(reason, r) => {
                    // OTP replies before terminate/2 runs.
                    if let Some(r) = r {
                        caller.reply(r);
                    }
                    Next::Stop(reason)
                }
            }
        })
    }

    fn release(&self) {
        ReplySlot::release(self);
    }

    fn unsend(&self) -> Box<dyn Any + Send> {
        Box::new(self.take_unsent())
    }
}

pub(crate) struct CastBox<M>(pub(crate) M);

impl<S, M> CastDispatch<S> for CastBox<M>
where
    S: Cast<M>,
    M: Send + 'static,
{
    fn dispatch<'a>(
        self: Box<Self>,
        server: &'a mut S,
        ctx: &'a mut ServerCtx<S>,
    ) -> BoxFuture<'a, Next> {
        Box::pin(server.handle_cast(self.0, ctx))
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(self.0)
    }
}

impl<S: Server> Kind<S> {
    /// The request of a call that could not be sent.
    pub(crate) fn unsent_call<Req: 'static>(self) -> Option<Req> {
        match self {
            Kind::Call(mut env) => {
                let cell = env.0.take()?;
                cell.unsend()
                    .downcast::<Option<Req>>()
                    .ok()
                    .and_then(|b| *b)
            }
            _ => None,
        }
    }

    /// The message of a cast that could not be sent.
    pub(crate) fn unsent_cast<M: 'static>(self) -> Option<M> {
        match self {
            Kind::Cast(b) => b.into_any().downcast::<M>().ok().map(|b| *b),
            _ => None,
        }
    }
}
