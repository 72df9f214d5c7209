//! `#[rusm::main]` and `#[rusm::test]`: run an `async fn` on a fresh RUSM runtime.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn};

use crate::args::Errors;

pub(crate) fn expand(attr: TokenStream, item: TokenStream, test: bool) -> syn::Result<TokenStream> {
    let which = if test { "test" } else { "main" };
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.spanned(&attr, format!("#[rusm::{which}] takes no arguments"));
    }
    let f: ItemFn = errors.item(&item, format!("#[rusm::{which}] goes on an `async fn`"))?;
    let sig = &f.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            format!(
                "#[rusm::{which}] needs an `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            format!("#[rusm::{which}] functions cannot be generic"),
        );
    }
    let mut binding = quote!(let _ = __rusm_rt;);
    match sig.inputs.len() {
        0 => {}
        1 => match &sig.inputs[0] {
            FnArg::Typed(p) => {
                let (pat, ty) = (&p.pat, &p.ty);
                binding = quote!(let #pat: #ty = __rusm_rt;);
            }
            FnArg::Receiver(r) => {
                errors.at(r.span(), format!("#[rusm::{which}] cannot take `self`"))
            }
        },
        _ => errors.spanned(
            &sig.inputs,
            format!("#[rusm::{which}] takes no parameters, or one: `rt: Runtime`"),
        ),
    }
    errors.finish()?;
    let attrs = &f.attrs;
    let vis = &f.vis;
    let name = &sig.ident;
    let output = &sig.output;
    let block = &f.block;
    let test_attr = if test {
        quote!(#[::core::prelude::v1::test])
    } else {
        quote!()
    };
    Ok(quote! {
        #test_attr
        #(#attrs)*
        #vis fn #name() #output {
            let __rusm_runtime = ::rusm::__private::Runtime::new()
                .expect("rusm: cannot start the runtime");
            let __rusm_rt = __rusm_runtime.clone();
            __rusm_runtime.block_on(async move {
                #binding
                #block
            })
        }
    })
}
