//! `key = value` attribute arguments: parsing, and errors that point at the offending token.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Meta, Token};

/// Collects errors so that one attribute reports all of its mistakes at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// An error spanning all of `tokens` (start to end), not only their first token.
    pub(crate) fn spanned(&mut self, tokens: impl quote::ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    /// Parses the annotated item as a `T`, or fails with `msg` at the item's name together
    /// with every error collected so far.
    pub(crate) fn item<T: syn::parse::Parse>(
        &mut self,
        item: &TokenStream,
        msg: impl std::fmt::Display,
    ) -> syn::Result<T> {
        syn::parse2(item.clone()).map_err(|_| {
            self.at(crate::span::first_token_span(item), msg);
            self.0.take().expect("an error was just pushed")
        })
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// One `key = value` argument, or `key(...)` for the keys that take a list.
pub(crate) struct Arg {
    pub(crate) key: syn::Ident,
    pub(crate) value: Expr,
    /// `key(...)`: the tokens inside the parentheses (then `value` holds them verbatim).
    pub(crate) list: Option<TokenStream>,
}

/// Parses `key = value, ...`, rejecting anything else and duplicate keys, and checking each
/// key against `known` (listed in the message when unknown). `key(...)` is taken for the
/// keys in `lists` only.
pub(crate) fn parse(
    args: TokenStream,
    known: &[&str],
    lists: &[&str],
    errors: &mut Errors,
) -> Vec<Arg> {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(m) => m,
        Err(e) => {
            errors.push(e);
            return Vec::new();
        }
    };
    let mut out: Vec<Arg> = Vec::new();
    for meta in metas {
        let (path, value, list) = match meta {
            Meta::NameValue(nv) => (nv.path, nv.value, None),
            Meta::List(l)
                if l.path
                    .get_ident()
                    .is_some_and(|k| lists.iter().any(|n| k == n)) =>
            {
                (l.path, Expr::Verbatim(l.tokens.clone()), Some(l.tokens))
            }
            meta => {
                errors.spanned(&meta, "expected `key = value`");
                continue;
            }
        };
        let Some(key) = path.get_ident().cloned() else {
            errors.at(path.span(), "expected a key name");
            continue;
        };
        let name = key.to_string();
        if !known.contains(&name.as_str()) {
            errors.at(
                key.span(),
                format!(
                    "unknown key `{name}`; expected one of: {}",
                    known.join(", ")
                ),
            );
            continue;
        }
        if out.iter().any(|a| a.key == key) {
            errors.at(key.span(), format!("duplicate key `{name}`"));
            continue;
        }
        out.push(Arg { key, value, list });
    }
    out
}

impl Arg {
    fn lit(&self) -> Option<&Lit> {
        match &self.value {
            Expr::Lit(ExprLit { lit, .. }) => Some(lit),
            _ => None,
        }
    }

    /// A string literal.
    pub(crate) fn str(&self, errors: &mut Errors) -> Option<syn::LitStr> {
        match self.lit() {
            Some(Lit::Str(s)) => Some(s.clone()),
            _ => {
                errors.spanned(
                    &self.value,
                    format!(
                        "`{}` takes a string literal, e.g. `{} = \"...\"`",
                        self.key, self.key
                    ),
                );
                None
            }
        }
    }

    /// A non-negative integer literal that fits `u64`.
    pub(crate) fn int(&self, errors: &mut Errors) -> Option<(u64, Span)> {
        let parsed = match self.lit() {
            Some(Lit::Int(i)) => i.base10_parse::<u64>().map_err(|e| e.to_string()),
            _ => Err(format!(
                "`{}` takes an integer literal, e.g. `{} = 10`",
                self.key, self.key
            )),
        };
        match parsed {
            Ok(v) => Some((v, self.value.span())),
            Err(msg) => {
                errors.spanned(&self.value, msg);
                None
            }
        }
    }

    /// A positive integer literal.
    pub(crate) fn positive(&self, errors: &mut Errors) -> Option<u64> {
        let (v, span) = self.int(errors)?;
        if v == 0 {
            errors.at(span, format!("`{}` must be at least 1", self.key));
            return None;
        }
        Some(v)
    }

    /// `true` or `false`.
    pub(crate) fn bool(&self, errors: &mut Errors) -> Option<bool> {
        match self.lit() {
            Some(Lit::Bool(b)) => Some(b.value),
            _ => {
                errors.spanned(
                    &self.value,
                    format!("`{}` takes `true` or `false`", self.key),
                );
                None
            }
        }
    }

    /// A path, such as a handler's name.
    pub(crate) fn path(&self, errors: &mut Errors) -> Option<syn::Path> {
        match &self.value {
            Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
            _ => {
                errors.spanned(
                    &self.value,
                    format!(
                        "`{}` takes the name of a `#[rusm::connection]` handler, e.g. `{} = echo`",
                        self.key, self.key
                    ),
                );
                None
            }
        }
    }
}
