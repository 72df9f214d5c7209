//! `#[rusm::connection]`: an `async fn (ctx, stream[, state])` becomes a unit struct of the
//! same name that implements `rusm::Handler`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type};

use crate::args::{self, Errors};

const KEYS: &[&str] = &["idle_timeout_ms", "close_with_reset"];

const SHAPE: &str = "expected `(ctx: Ctx, stream: TcpStream)` or \
                     `(ctx: Ctx, stream: TcpStream, state: Arc<YourState>)`";

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = args::parse(attr, KEYS, &[], &mut errors);
    let mut idle = quote!(::core::option::Option::None);
    let mut reset = quote!(::core::option::Option::None);
    for a in &args {
        match a.key.to_string().as_str() {
            "idle_timeout_ms" => {
                if let Some(ms) = a.positive(&mut errors) {
                    idle = quote!(::core::option::Option::Some(
                        ::rusm::__private::Duration::from_millis(#ms)
                    ));
                }
            }
            "close_with_reset" => {
                if let Some(b) = a.bool(&mut errors) {
                    reset = quote!(::core::option::Option::Some(#b));
                }
            }
            _ => unreachable!("checked by args::parse"),
        }
    }
    let f: ItemFn = errors.item(
        &item,
        "#[rusm::connection] goes on an `async fn(ctx: Ctx, stream: TcpStream)`",
    )?;
    let sig = &f.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "a connection handler must be an `async fn`: write `async fn`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            "a connection handler cannot have generic parameters or lifetimes: each listener \
             runs one concrete handler; use concrete types, or `Arc<YourState>` for shared state",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v.span(), "a connection handler cannot be variadic");
    }
    let mut state_ty: Option<Type> = None;
    let mut msg_ty: Option<Type> = None;
    let mut types: Vec<&Type> = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => errors.spanned(
                r,
                "a connection handler cannot take `self`: write a free `async fn(ctx: Ctx, \
                 stream: TcpStream)` outside any `impl`",
            ),
            FnArg::Typed(p) => types.push(&p.ty),
        }
    }
    let has_receiver = sig.inputs.iter().any(|i| matches!(i, FnArg::Receiver(_)));
    if !has_receiver {
        if types.len() < 2 || types.len() > 3 {
            let msg = format!(
                "a connection handler takes 2 or 3 parameters, not {}: {SHAPE}",
                types.len()
            );
            if sig.inputs.is_empty() {
                errors.at(sig.paren_token.span.join(), msg);
            } else {
                errors.spanned(&sig.inputs, msg);
            }
        } else {
            if !last_segment_is(types[0], "Ctx") {
                errors.spanned(
                    types[0],
                    "the first parameter is the connection's process context: `ctx: Ctx`, \
                     or `ctx: Ctx<YourMessage>` for a connection that takes messages",
                );
            } else {
                msg_ty = generic_arg(types[0]).cloned();
            }
            if !last_segment_is(types[1], "TcpStream") {
                errors.spanned(
                    types[1],
                    "the second parameter is the connection: `stream: TcpStream`",
                );
            }
            if let Some(t) = types.get(2) {
                match arc_inner(t) {
                    Some(inner) => state_ty = Some(inner.clone()),
                    None => errors.spanned(
                        t,
                        "the third parameter is the state connections share: \
                         `state: Arc<YourState>`",
                    ),
                }
            }
        }
    }
    errors.finish()?;

    let vis = &f.vis;
    let name = &sig.ident;
    let docs: Vec<_> = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let other: Vec<_> = f
        .attrs
        .iter()
        .filter(|a| !a.path().is_ident("doc"))
        .collect();
    let inputs = &sig.inputs;
    let block = &f.block;
    let (output_decl, output_ty) = match &sig.output {
        ReturnType::Default => (quote!(), quote!(())),
        ReturnType::Type(arrow, ty) => (quote!(#arrow #ty), quote!(#ty)),
    };
    let (state, call, default_state) = match &state_ty {
        Some(t) => (
            quote!(#t),
            quote!(#name::__rusm_handler(ctx, stream, state)),
            quote!(),
        ),
        None => (
            quote!(()),
            quote!({
                let _ = state;
                #name::__rusm_handler(ctx, stream)
            }),
            quote! {
                fn default_state() -> ::core::option::Option<::rusm::__private::Arc<()>> {
                    ::core::option::Option::Some(::rusm::__private::Arc::new(()))
                }
            },
        ),
    };
    let message = match &msg_ty {
        Some(t) => quote!(#t),
        None => quote!(()),
    };
    let send_check = quote_spanned! {name.span()=>
        ::core::marker::Send + 'static
    };
    Ok(quote! {
        #(#docs)*
        ///
        /// A connection handler (`#[rusm::connection]`): run it with `#[rusm::listener]` or
        /// `rusm::ListenerBuilder`. The type is braced, so that it is not a value: a binding
        /// of the same name elsewhere (`|h| h.pid()`) stays a binding.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name {}

        #(#docs)*
        ///
        /// The connection handler as a value, e.g. for `ListenerBuilder::new(h(), config)`.
        /// A function, not a unit struct, so that it never shadows a binding.
        #[allow(dead_code)]
        #vis fn #name() -> #name {
            #name {}
        }

        impl #name {
            #[doc(hidden)]
            #(#other)*
            async fn __rusm_handler(#inputs) #output_decl #block
        }

        impl ::rusm::__private::Handler for #name {
            type State = #state;
            type Output = #output_ty;
            type Message = #message;

            fn call(
                ctx: ::rusm::__private::Ctx<Self::Message>,
                stream: ::rusm::__private::TcpStream,
                state: ::rusm::__private::Arc<Self::State>,
            ) -> impl ::core::future::Future<Output = Self::Output> + #send_check {
                #call
            }

            fn options() -> ::rusm::__private::HandlerOptions {
                ::rusm::__private::HandlerOptions {
                    idle_timeout: #idle,
                    close_with_reset: #reset,
                }
            }

            #default_state
        }
    })
}

/// Whether `ty` is a path whose last segment is `name` (`Ctx`, `rusm::Ctx`, `Ctx<()>`).
fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == name)
        }
        _ => false,
    }
}

/// `T` of `Ctx<T>`; `None` for a bare `Ctx`.
fn generic_arg(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let PathArguments::AngleBracketed(a) = &p.path.segments.last()?.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) if a.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// `T` of `Arc<T>` (or `std::sync::Arc<T>`).
fn arc_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Arc" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) if a.args.len() == 1 => Some(t),
        _ => None,
    }
}
