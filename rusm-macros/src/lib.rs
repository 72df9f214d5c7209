//! Attribute macros for RUSM, used through the `rusm` crate: `#[rusm::connection]`,
//! `#[rusm::listener]`, `#[rusm::main]` and `#[rusm::test]`. Their documentation, with
//! examples, is on the re-exports in `rusm`.
//!
//! Every misuse is a compile error pointing at the offending token, all errors of one
//! attribute at once; generated code names only paths under `::rusm`.

mod args;
mod connection;
mod entry;
mod listener;
mod span;

use proc_macro::TokenStream;

/// The expansion, or the errors followed by `fallback`, so that one mistake does not cascade
/// into errors about the item being missing.
fn emit(
    r: syn::Result<proc_macro2::TokenStream>,
    fallback: proc_macro2::TokenStream,
) -> TokenStream {
    match r {
        Ok(t) => t.into(),
        Err(e) => {
            let mut t = e.into_compile_error();
            t.extend(fallback);
            t.into()
        }
    }
}

/// Turns `async fn name(ctx: Ctx, stream: TcpStream[, state: Arc<S>])` into a connection
/// handler: a unit struct `name` implementing `rusm::Handler`.
#[proc_macro_attribute]
pub fn connection(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    emit(connection::expand(attr.into(), item.clone()), item)
}

/// Turns a unit struct into a supervised listener running a `#[rusm::connection]` handler.
#[proc_macro_attribute]
pub fn listener(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    emit(listener::expand(attr.into(), item.clone()), item)
}

/// Runs `async fn main` on a new RUSM runtime.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    // An `async fn main` left in place would add an error of its own.
    let stub = quote::quote!(
        fn main() {}
    );
    emit(entry::expand(attr.into(), item.into(), false), stub)
}

/// Runs an `async fn` test on a new RUSM runtime.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(
        entry::expand(attr.into(), item.into(), true),
        Default::default(),
    )
}
