//! Spans of an annotated item, for errors that point at it rather than at the attribute.

use proc_macro2::{Span, TokenStream};

/// Where to point "wrong kind of item" errors: the item's name, or its keyword.
pub(crate) fn first_token_span(item: &TokenStream) -> Span {
    use syn::Item;
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(i)) => i.ident.span(),
        Ok(Item::Enum(i)) => i.ident.span(),
        Ok(Item::Union(i)) => i.ident.span(),
        Ok(Item::Fn(i)) => i.sig.ident.span(),
        Ok(Item::Mod(i)) => i.ident.span(),
        Ok(Item::Trait(i)) => i.ident.span(),
        Ok(Item::Const(i)) => i.ident.span(),
        Ok(Item::Static(i)) => i.ident.span(),
        Ok(Item::Type(i)) => i.ident.span(),
        Ok(Item::Impl(i)) => i.impl_token.span,
        Ok(Item::Use(i)) => i.use_token.span,
        _ => Span::call_site(),
    }
}
