//! `#[rusm::listener(...)]`: a unit struct becomes a supervised listener: its options, a
//! builder, `start` and `child_spec`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Fields, Item};

use crate::args::{self, Errors};
use crate::span::first_token_span;

const KEYS: &[&str] = &[
    "addr",
    "handler",
    "acceptors",
    "max_connections",
    "backlog",
    "nodelay",
    "reuse_port",
    "close_with_reset",
    "idle_timeout_ms",
    "intensity",
    "period_secs",
    "drain_timeout_ms",
    "tls",
    "proxy_protocol",
    "handshake_timeout_ms",
];

/// The keys inside `tls(...)`.
const TLS_KEYS: &[&str] = &["cert", "key", "alpn"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = args::parse(attr, KEYS, &["tls"], &mut errors);
    let mut addr = quote!("127.0.0.1:0");
    let mut handler = None;
    let mut sets = Vec::new();
    let mut intensity = None;
    let mut period = None;
    for a in &args {
        let key = a.key.to_string();
        match key.as_str() {
            "addr" => {
                if let Some(s) = a.str(&mut errors) {
                    match s.value().parse::<std::net::SocketAddr>() {
                        Ok(_) => addr = quote!(#s),
                        Err(e) => errors.at(
                            s.span(),
                            format!(
                                "`{}` is not a socket address ({e}); write `IP:PORT`, e.g. \
                                 \"127.0.0.1:7000\" or \"[::1]:7000\"",
                                s.value()
                            ),
                        ),
                    }
                }
            }
            "handler" => handler = a.path(&mut errors),
            "acceptors" => {
                if let Some(n) = a.positive(&mut errors) {
                    if n > 1024 {
                        errors.at(
                            syn::spanned::Spanned::span(&a.value),
                            "`acceptors` must be at most 1024",
                        );
                    }
                    let n = n as usize;
                    sets.push(quote!(let config = config.acceptors(#n);));
                }
            }
            "max_connections" => {
                if let Some(n) = a.positive(&mut errors) {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    sets.push(quote!(let config = config.max_connections(#n);));
                }
            }
            "backlog" => {
                if let Some(n) = a.positive(&mut errors) {
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    sets.push(quote!(let config = config.backlog(#n);));
                }
            }
            "tls" => {
                if let Some(set) = tls(a, &mut errors) {
                    sets.push(set);
                }
            }
            "handshake_timeout_ms" => {
                if let Some(ms) = a.positive(&mut errors) {
                    sets.push(quote!(let config = config.handshake_timeout(
                        ::rusm::__private::Duration::from_millis(#ms));));
                }
            }
            "nodelay" | "reuse_port" | "close_with_reset" | "proxy_protocol" => {
                if let Some(b) = a.bool(&mut errors) {
                    let field = &a.key;
                    sets.push(quote!(let config = config.#field(#b);));
                }
            }
            "idle_timeout_ms" => {
                if let Some(ms) = a.positive(&mut errors) {
                    sets.push(
                        quote!(let config = config.idle_timeout(::core::option::Option::Some(
                        ::rusm::__private::Duration::from_millis(#ms)
                    ));),
                    );
                }
            }
            "drain_timeout_ms" => {
                if let Some((ms, _)) = a.int(&mut errors) {
                    sets.push(
                        quote!(let config = config.drain_timeout(::rusm::__private::Duration::from_millis(#ms));),
                    );
                }
            }
            "intensity" => {
                if let Some((n, span)) = a.int(&mut errors) {
                    match u32::try_from(n) {
                        Ok(n) => intensity = Some(n),
                        Err(_) => errors.at(span, "`intensity` must fit in a u32"),
                    }
                }
            }
            "period_secs" => period = a.positive(&mut errors),
            _ => unreachable!("checked by args::parse"),
        }
    }
    match (intensity, period) {
        (Some(i), p) => {
            let p = p.unwrap_or(5);
            sets.push(quote!(let config = config.acceptor_intensity(
                #i,
                ::rusm::__private::Duration::from_secs(#p)
            );));
        }
        (None, Some(p)) => {
            sets.push(quote!(let config = config.acceptor_period(
                ::rusm::__private::Duration::from_secs(#p)
            );));
        }
        (None, None) => {}
    }
    let item_ok = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(s)) if matches!(s.fields, Fields::Unit) && s.generics.params.is_empty() => {
            Some(s)
        }
        Ok(Item::Struct(s)) => {
            errors.at(
                s.ident.span(),
                "#[rusm::listener] goes on a unit struct without generics: `struct Name;`",
            );
            None
        }
        _ => {
            errors.at(
                first_token_span(&item),
                "#[rusm::listener] goes on a unit struct: `struct Name;`",
            );
            None
        }
    };
    if handler.is_none() && !args.iter().any(|a| a.key == "handler") {
        errors.at(
            Span::call_site(),
            "a listener needs a handler: add `handler = name_of_a_rusm_connection_fn`",
        );
    }
    errors.finish()?;
    let (Some(s), Some(handler)) = (item_ok, handler) else {
        unreachable!("errors were reported");
    };
    let name = &s.ident;
    let id = name.to_string();
    // The handler as a value, checked to be one: a plain `fn` gets the handler trait's
    // "not a RUSM connection handler" note, at the handler's span.
    let check = quote_spanned! {handler.span()=>
        {
            #[allow(unused_imports)]
            use ::rusm::__private::probe::{ViaFactory as _, ViaValue as _, Fallback as _};
            ::rusm::__private::probe::require((&&::rusm::__private::probe::Probe(#handler)).rusm_probe());
        }
    };
    Ok(quote! {
        #s

        impl #name {
            /// The address from `#[rusm::listener]` (override it with
            /// `builder().addr(...)`).
            pub const ADDR: &'static str = #addr;

            /// The listener's options, as `#[rusm::listener]` gives them; omitted keys keep
            /// `ListenerConfig`'s defaults.
            pub fn config() -> ::rusm::__private::ListenerConfig {
                let config = ::rusm::__private::ListenerConfig::new(Self::ADDR);
                #(#sets)*
                config
            }

            /// A builder with these options and the handler: override the address or any
            /// option, give the handler's shared state, then `start` or `child_spec`.
            pub fn builder() -> ::rusm::__private::ListenerBuilder<#handler> {
                #check
                ::rusm::__private::ListenerBuilder::<#handler>::of(Self::config())
            }

            /// Starts the listener as a root of `rt`'s supervision tree.
            ///
            /// # Errors
            ///
            /// The bind error (address in use, …), or a handler that needs state.
            pub async fn start(
                rt: &::rusm::__private::Runtime,
            ) -> ::std::io::Result<(::std::net::SocketAddr, ::rusm::__private::Listener)> {
                Self::builder().start(rt).await
            }

            /// The listener as a supervisor child spec, with this struct's name as its id.
            pub fn child_spec() -> ::rusm::__private::ChildSpec {
                Self::builder().child_spec(#id)
            }
        }
    })
}

/// `tls(cert = "PATH", key = "PATH"[, alpn = ["h2", ...]])`: the statement that sets the
/// config's TLS. The files are read when the listener starts, which names a missing one.
fn tls(a: &args::Arg, errors: &mut Errors) -> Option<TokenStream> {
    let Some(tokens) = &a.list else {
        errors.spanned(
            &a.value,
            "`tls` takes the certificate and key files: `tls(cert = \"cert.pem\", key = \"key.pem\")`",
        );
        return None;
    };
    if !cfg!(feature = "tls") {
        errors.at(
            a.key.span(),
            "`tls(...)` needs the `tls` feature of `rusm` (on by default): \
             `rusm = { version = \"...\", features = [\"tls\"] }`",
        );
        return None;
    }
    let inner = args::parse(tokens.clone(), TLS_KEYS, &[], errors);
    let (mut cert, mut key, mut alpn) = (None, None, None);
    for i in &inner {
        match i.key.to_string().as_str() {
            "cert" => cert = i.str(errors),
            "key" => key = i.str(errors),
            "alpn" => alpn = alpn_list(i, errors),
            _ => unreachable!("checked by args::parse"),
        }
    }
    for (name, value) in [("cert", &cert), ("key", &key)] {
        if value.is_none() && !inner.iter().any(|i| i.key == name) {
            errors.at(
                a.key.span(),
                format!("`tls(...)` needs `{name} = \"PATH\"` (a PEM file)"),
            );
        }
    }
    let (cert, key) = (cert?, key?);
    let alpn = alpn.map(|protocols| quote!(.alpn([#(#protocols),*])));
    Some(quote! {
        let config = config.tls(::rusm::__private::TlsConfig::pem_files(#cert, #key) #alpn);
    })
}

/// `alpn = ["h2", "http/1.1"]`: string literals.
fn alpn_list(a: &args::Arg, errors: &mut Errors) -> Option<Vec<syn::LitStr>> {
    let msg = "`alpn` takes a list of protocol names, e.g. `alpn = [\"h2\", \"http/1.1\"]`";
    let syn::Expr::Array(array) = &a.value else {
        errors.spanned(&a.value, msg);
        return None;
    };
    let mut out = Vec::new();
    for e in &array.elems {
        match e {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) if !s.value().is_empty() => out.push(s.clone()),
            other => errors.spanned(other, msg),
        }
    }
    Some(out)
}
