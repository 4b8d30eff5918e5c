//! Checks shared by every attribute that annotates a function.

use crate::ctxt::Ctxt;
use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{FnArg, Item, ItemFn, Signature, Type};

/// Parses the annotated item, recording an error unless it is a function.
// input:  `struct Foo;` under `#[github::on("push")]`
// output: error "`#[github::on]` can only be applied to an `async fn`" on the item
pub(crate) fn parse_fn(cx: &mut Ctxt, attr: &str, item: TokenStream) -> Option<ItemFn> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(func)) => Some(func),
        Ok(other) => {
            cx.error_spanned_by(
                item_head(&other),
                format!("`#[{attr}]` can only be applied to an `async fn`"),
            );
            None
        }
        Err(err) => {
            cx.syn_error(err);
            None
        }
    }
}

/// The tokens an error about a whole item should point at: its keyword and name, not its body.
fn item_head(item: &Item) -> TokenStream {
    use quote::quote;
    match item {
        Item::Struct(i) => head(&i.struct_token, &i.ident),
        Item::Enum(i) => head(&i.enum_token, &i.ident),
        Item::Union(i) => head(&i.union_token, &i.ident),
        Item::Trait(i) => head(&i.trait_token, &i.ident),
        Item::Mod(i) => head(&i.mod_token, &i.ident),
        Item::Const(i) => head(&i.const_token, &i.ident),
        Item::Static(i) => head(&i.static_token, &i.ident),
        Item::Type(i) => head(&i.type_token, &i.ident),
        Item::Impl(i) => {
            let (impl_token, self_ty) = (&i.impl_token, &i.self_ty);
            quote!(#impl_token #self_ty)
        }
        other => quote!(#other),
    }
}

fn head(keyword: &impl quote::ToTokens, ident: &syn::Ident) -> TokenStream {
    quote::quote!(#keyword #ident)
}

/// The rules every registered handler follows: `async`, not generic, no `self`, not variadic,
/// not `unsafe`, and no `impl Trait` arguments (the macro names each argument's type).
pub(crate) fn check_handler(cx: &mut Ctxt, sig: &Signature) {
    check_fn(cx, sig, "handler");
}

/// [`check_handler`] for any kind of registered function (`what`: "handler", "task").
pub(crate) fn check_fn(cx: &mut Ctxt, sig: &Signature, what: &str) {
    let name = &sig.ident;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, format!("{what} must be an `async fn`; write `async fn {name}`"));
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(unsafety, format!("{what} cannot be an `unsafe fn`; remove `unsafe`"));
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!("{what} cannot be generic; remove the generic parameters and use concrete types"),
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format!("{what} cannot have a `where` clause; remove it and use concrete types"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, format!("{what} cannot be variadic; remove `...`"));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                cx.error_spanned_by(receiver, format!("{what} cannot take `self`; make it a free function"));
            }
            FnArg::Typed(arg) => {
                if let Type::ImplTrait(ty) = &*arg.ty {
                    cx.error_at(
                        ty.impl_token.span(),
                        format!("{what} arguments cannot be `impl Trait`; name the argument's type"),
                    );
                }
            }
        }
    }
}

/// The handler's name as users read it: `r#type` becomes `type`.
pub(crate) fn display_name(sig: &Signature) -> String {
    let name = sig.ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// `#[cfg(...)]` attributes of the function, repeated on the generated registration so a
/// handler compiled out (`#[cfg(test)]` below the attribute) takes its registration with it.
pub(crate) fn cfg_attrs(func: &ItemFn) -> Vec<&syn::Attribute> {
    func.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).collect()
}
