//! Derive macros for hookr's MessagePack codec: `#[derive(Encode, Decode)]` on a struct
//! or enum writes the `Encode` and `Decode` impls that hookr's typed calls use, laid
//! out the way Go's `tinylib/msgp` lays out structs (maps keyed by field name).
//!
//! Use them through the crate you already depend on, which re-exports them next to
//! the traits of the same names: `hookr_guest::{Encode, Decode}` in a plugin,
//! `hookr::codec::{Encode, Decode}` in a host, `hookr_abi::codec::{Encode, Decode}`
//! with `hookr-abi` alone. Each re-export writes paths into its own crate, so a crate
//! needs no dependency beyond the one it names. The layout and the `#[codec(...)]`
//! attributes are in the docs of `hookr_abi::codec`.
//!
//! `rename_all` names as serde's `rename_all` of the same name does, so that a type
//! shared with a serde peer (`hookr::Serde`, rmp-serde) has the same names on the wire:
//! a field is taken to be snake_case and a variant PascalCase, and each has serde's
//! rules. A field keeps its underscores in `snake_case` and `lowercase`, has them
//! upper-cased in `UPPERCASE` and `SCREAMING_SNAKE_CASE`, made hyphens in the kebab
//! styles, and dropped in `PascalCase` and `camelCase` (`my_field` is `MyField`,
//! `myField`). A variant is split before every upper-case letter but the first in
//! the snake and kebab styles (`HTTPServer` is `h_t_t_p_server`), and otherwise only
//! has its case changed (`lowercase`: `httpserver`; `camelCase`: `hTTPServer`).
//!
//! A named field the input leaves out is `Default::default()` when marked `default`,
//! else what its type's `Decode::missing` gives (`None` for an `Option`, under
//! whatever name), else `DecodeError::MissingField`. A tuple struct or variant reads a
//! shorter array when the fields it leaves out are all marked `default`. Only the end
//! of an array can be missing, and a newtype is its one field's value alone, so the
//! derives refuse a `default` that could never apply: on a tuple field followed by
//! one without it, or on a newtype's field.
//!
//! The generated encoder writes the map header and each field name as precomputed
//! bytes; the generated decoder compares names a word at a time. Both matter in a
//! plugin, whose every instruction is interpreted.

use proc_macro::TokenStream;
use proc_macro2::{Literal, Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericParam, Ident, LitStr, Type};

/// Derives `Encode` for code that uses `hookr-abi` directly.
#[proc_macro_derive(Encode, attributes(codec))]
pub fn encode(input: TokenStream) -> TokenStream {
    derive(input, Trait::Encode, "hookr_abi")
}

/// Derives `Decode` for code that uses `hookr-abi` directly.
#[proc_macro_derive(Decode, attributes(codec))]
pub fn decode(input: TokenStream) -> TokenStream {
    derive(input, Trait::Decode, "hookr_abi")
}

/// `Encode` as `hookr_guest::Encode` re-exports it.
#[doc(hidden)]
#[proc_macro_derive(GuestEncode, attributes(codec))]
pub fn guest_encode(input: TokenStream) -> TokenStream {
    derive(input, Trait::Encode, "hookr_guest")
}

/// `Decode` as `hookr_guest::Decode` re-exports it.
#[doc(hidden)]
#[proc_macro_derive(GuestDecode, attributes(codec))]
pub fn guest_decode(input: TokenStream) -> TokenStream {
    derive(input, Trait::Decode, "hookr_guest")
}

/// `Encode` as `hookr::codec::Encode` re-exports it.
#[doc(hidden)]
#[proc_macro_derive(HostEncode, attributes(codec))]
pub fn host_encode(input: TokenStream) -> TokenStream {
    derive(input, Trait::Encode, "hookr")
}

/// `Decode` as `hookr::codec::Decode` re-exports it.
#[doc(hidden)]
#[proc_macro_derive(HostDecode, attributes(codec))]
pub fn host_decode(input: TokenStream) -> TokenStream {
    derive(input, Trait::Decode, "hookr")
}

#[derive(Clone, Copy, PartialEq)]
enum Trait {
    Encode,
    Decode,
}

fn derive(input: TokenStream, which: Trait, krate: &str) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input, which, krate) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What `#[codec(...)]` says about one field, variant or type.
#[derive(Default)]
struct Attrs {
    rename: Option<String>,
    rename_all: Option<Case>,
    skip: bool,
    default: bool,
    krate: Option<syn::Path>,
}

/// A `rename_all` style: serde's `RenameRule` of the same name, so that a type
/// shared with a serde peer has the same names on the wire. A field is taken to be
/// snake_case and a variant PascalCase, as Rust writes them, and each has its own
/// rules (serde's `apply_to_field` and `apply_to_variant`).
#[derive(Clone, Copy)]
enum Case {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

const CASES: [(&str, Case); 8] = [
    ("lowercase", Case::Lower),
    ("UPPERCASE", Case::Upper),
    ("PascalCase", Case::Pascal),
    ("camelCase", Case::Camel),
    ("snake_case", Case::Snake),
    ("SCREAMING_SNAKE_CASE", Case::ScreamingSnake),
    ("kebab-case", Case::Kebab),
    ("SCREAMING-KEBAB-CASE", Case::ScreamingKebab),
];

/// `s` with its first character in ASCII lower case.
fn lower_first(s: &str) -> String {
    let mut cs = s.chars();
    cs.next().map(|c| c.to_ascii_lowercase().to_string() + cs.as_str()).unwrap_or_default()
}

impl Case {
    /// The name of field `field` (snake_case in Rust) in this style: underscores kept
    /// (`snake_case`, `lowercase`), upper-cased (`UPPERCASE`, `SCREAMING_SNAKE_CASE`),
    /// made hyphens (`kebab-case`, `SCREAMING-KEBAB-CASE`), or dropped with the
    /// letter after each upper-cased (`PascalCase`, `camelCase`).
    fn apply_to_field(self, field: &str) -> String {
        match self {
            Case::Lower | Case::Snake => field.to_owned(),
            Case::Upper | Case::ScreamingSnake => field.to_ascii_uppercase(),
            Case::Pascal => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            Case::Camel => lower_first(&Case::Pascal.apply_to_field(field)),
            Case::Kebab => field.replace('_', "-"),
            Case::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }

    /// The name of variant `variant` (PascalCase in Rust) in this style: kept
    /// (`PascalCase`), lower- or upper-cased whole (`lowercase`, `UPPERCASE`), its
    /// first letter lower-cased (`camelCase`), or split before every upper-case
    /// letter but the first (`snake_case` and the rest: `HTTPServer` is
    /// `h_t_t_p_server`).
    fn apply_to_variant(self, variant: &str) -> String {
        match self {
            Case::Pascal => variant.to_owned(),
            Case::Lower => variant.to_ascii_lowercase(),
            Case::Upper => variant.to_ascii_uppercase(),
            Case::Camel => lower_first(variant),
            Case::Snake => {
                let mut snake = String::new();
                for (i, ch) in variant.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                snake
            }
            Case::ScreamingSnake => Case::Snake.apply_to_variant(variant).to_ascii_uppercase(),
            Case::Kebab => Case::Snake.apply_to_variant(variant).replace('_', "-"),
            Case::ScreamingKebab => Case::ScreamingSnake.apply_to_variant(variant).replace('_', "-"),
        }
    }
}

#[derive(Clone, Copy)]
enum Place {
    Type,
    Field,
    Variant,
}

fn attrs(list: &[syn::Attribute], place: Place) -> syn::Result<Attrs> {
    let mut out = Attrs::default();
    for attr in list.iter().filter(|a| a.path().is_ident("codec")) {
        attr.parse_nested_meta(|meta| {
            let allowed = match place {
                Place::Type => ["crate", "rename_all"].iter().any(|k| meta.path.is_ident(k)),
                Place::Field => ["rename", "skip", "default"].iter().any(|k| meta.path.is_ident(k)),
                Place::Variant => ["rename", "rename_all"].iter().any(|k| meta.path.is_ident(k)),
            };
            if !allowed {
                return Err(meta.error(match place {
                    Place::Type => "unknown codec attribute: a type takes `rename_all = \"...\"` or `crate = \"...\"`",
                    Place::Field => "unknown codec attribute: a field takes `rename = \"...\"`, `skip` or `default`",
                    Place::Variant => {
                        "unknown codec attribute: a variant takes `rename = \"...\"` or `rename_all = \"...\"`"
                    }
                }));
            }
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("rename_all") {
                let style = meta.value()?.parse::<LitStr>()?;
                match CASES.iter().find(|(name, _)| *name == style.value()) {
                    Some(&(_, case)) => out.rename_all = Some(case),
                    None => {
                        let names: Vec<&str> = CASES.iter().map(|(name, _)| *name).collect();
                        return Err(syn::Error::new(
                            style.span(),
                            format!("rename_all takes one of {}", names.join(", ")),
                        ));
                    }
                }
            } else if meta.path.is_ident("skip") {
                out.skip = true;
            } else if meta.path.is_ident("default") {
                out.default = true;
            } else {
                out.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// One field that goes on the wire.
struct Field {
    /// How generated code reaches it: `self.name`, `self.0`, or a binding in a pattern.
    member: syn::Member,
    /// The name on the wire (named fields), or its position (tuple fields).
    name: String,
    ty: Type,
    /// `#[codec(default)]`: missing is `Default::default()`. Otherwise a missing named
    /// field is what the type's `Decode::missing` says (`None` for an `Option`), and a
    /// missing tuple field an error.
    default: bool,
}

/// The fields of a struct or variant: those on the wire, and those skipped.
struct Shape {
    named: bool,
    unit: bool,
    wire: Vec<Field>,
    skipped: Vec<syn::Member>,
}

/// The fields of a struct or variant; `case` renames those without a `rename`.
fn shape(fields: &Fields, case: Option<Case>) -> syn::Result<Shape> {
    let mut shape = Shape {
        named: matches!(fields, Fields::Named(_)),
        unit: matches!(fields, Fields::Unit),
        wire: Vec::new(),
        skipped: Vec::new(),
    };
    // Whether each field on the wire has `default`, and where it is written.
    let mut defaults: Vec<(bool, Span)> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let a = attrs(&f.attrs, Place::Field)?;
        let member = match &f.ident {
            Some(ident) => syn::Member::Named(ident.clone()),
            None => syn::Member::Unnamed(syn::Index { index: i as u32, span: f.span() }),
        };
        if a.skip {
            shape.skipped.push(member);
            continue;
        }
        if !shape.named && a.rename.is_some() {
            return Err(syn::Error::new(f.span(), "`rename` names a field of a struct with named fields"));
        }
        let name = match (&a.rename, &f.ident) {
            (Some(name), _) => name.clone(),
            (None, Some(ident)) => {
                let name = ident.to_string().trim_start_matches("r#").to_string();
                case.map_or(name.clone(), |case| case.apply_to_field(&name))
            }
            (None, None) => shape.wire.len().to_string(),
        };
        if shape.wire.iter().any(|w| w.name == name) {
            return Err(syn::Error::new(f.span(), format!("two fields are called `{name}` on the wire")));
        }
        shape.wire.push(Field { member, name, ty: f.ty.clone(), default: a.default });
        defaults.push((a.default, f.span()));
    }
    if !shape.named && !shape.unit {
        // A tuple is an array: only a field at its end can be missing.
        let newtype = shape.wire.len() == 1 && shape.skipped.is_empty();
        if let (true, Some(&(true, span))) = (newtype, defaults.first()) {
            return Err(syn::Error::new(
                span,
                "`default` has nothing to fill here: a newtype is its one field's value alone, which cannot be missing",
            ));
        }
        if let Some(first) = defaults.iter().position(|&(default, _)| default) {
            if let Some(&(_, span)) = defaults[first..].iter().find(|&&(default, _)| !default) {
                return Err(syn::Error::new(
                    span,
                    "a tuple field after one with `default` needs `default` too: an array that stops \
                     short leaves out the fields at its end, so an earlier `default` could never apply",
                ));
            }
        }
    }
    Ok(shape)
}

// ---------------------------------------------------------------------------------
// MessagePack headers, computed at expansion time

fn str_bytes(s: &str) -> Vec<u8> {
    let n = s.len();
    let mut out = if n < 32 {
        vec![0xa0 | n as u8]
    } else if n < 256 {
        vec![0xd9, n as u8]
    } else if n < 65536 {
        let [a, b] = (n as u16).to_be_bytes();
        vec![0xda, a, b]
    } else {
        let [a, b, c, d] = (n as u32).to_be_bytes();
        vec![0xdb, a, b, c, d]
    };
    out.extend_from_slice(s.as_bytes());
    out
}

fn container_header(n: usize, fix: u8, m16: u8) -> Vec<u8> {
    if n < 16 {
        vec![fix | n as u8]
    } else if n < 65536 {
        let [a, b] = (n as u16).to_be_bytes();
        vec![m16, a, b]
    } else {
        let [a, b, c, d] = (n as u32).to_be_bytes();
        vec![m16 + 1, a, b, c, d]
    }
}

fn map_header(n: usize) -> Vec<u8> {
    container_header(n, 0x80, 0xde)
}

fn array_header(n: usize) -> Vec<u8> {
    container_header(n, 0x90, 0xdc)
}

fn bytes_lit(bytes: &[u8]) -> Literal {
    Literal::byte_string(bytes)
}

// ---------------------------------------------------------------------------------
// Expansion

fn expand(input: &DeriveInput, which: Trait, krate: &str) -> syn::Result<Tokens> {
    let top = attrs(&input.attrs, Place::Type)?;
    let codec = match &top.krate {
        Some(path) => quote!(#path),
        None => {
            let krate = Ident::new(krate, Span::call_site());
            quote!(::#krate::codec)
        }
    };
    let name = &input.ident;
    let body = match (&input.data, which) {
        (Data::Struct(s), Trait::Encode) => encode_struct(&shape(&s.fields, top.rename_all)?, &codec),
        (Data::Struct(s), Trait::Decode) => decode_struct(&shape(&s.fields, top.rename_all)?, &codec),
        (Data::Enum(e), _) => {
            let mut variants = Vec::new();
            for v in &e.variants {
                let a = attrs(&v.attrs, Place::Variant)?;
                let wire = a.rename.clone().unwrap_or_else(|| {
                    let name = v.ident.to_string().trim_start_matches("r#").to_string();
                    top.rename_all.map_or(name.clone(), |case| case.apply_to_variant(&name))
                });
                if variants.iter().any(|(_, w, _): &(Ident, String, Shape)| *w == wire) {
                    return Err(syn::Error::new(v.span(), format!("two variants are called `{wire}` on the wire")));
                }
                variants.push((v.ident.clone(), wire, shape(&v.fields, a.rename_all)?));
            }
            match which {
                Trait::Encode => encode_enum(&variants, &codec),
                Trait::Decode => decode_enum(name, &variants, &codec),
            }
        }
        (Data::Union(u), _) => {
            return Err(syn::Error::new(u.union_token.span, "hookr's codec derives do not support unions"));
        }
    };

    let mut generics = input.generics.clone();
    let bound = match which {
        Trait::Encode => quote!(#codec::Encode),
        Trait::Decode => quote!(#codec::Decode),
    };
    let params: Vec<Ident> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.clone()),
            _ => None,
        })
        .collect();
    if !params.is_empty() {
        let clause = generics.make_where_clause();
        for p in params {
            clause.predicates.push(syn::parse_quote!(#p: #bound));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    Ok(match which {
        Trait::Encode => quote! {
            #[automatically_derived]
            impl #impl_generics #codec::Encode for #name #ty_generics #where_clause {
                fn encode(
                    &self,
                    __e: &mut #codec::Encoder<'_>,
                ) -> ::core::result::Result<(), #codec::EncodeError> {
                    #body
                }
            }
        },
        Trait::Decode => quote! {
            #[automatically_derived]
            impl #impl_generics #codec::Decode for #name #ty_generics #where_clause {
                fn decode(
                    __d: &mut #codec::Decoder<'_>,
                ) -> ::core::result::Result<Self, #codec::DecodeError> {
                    #body
                }
            }
        },
    })
}

/// Writes the fields of `shape`, each reached by `access(field)`, after the bytes in
/// `prefix` (the header of an enclosing variant map, if any). Constant bytes (headers,
/// field names) go out in as few `raw` writes as possible.
fn encode_fields(shape: &Shape, prefix: Vec<u8>, access: impl Fn(usize, &Field) -> Tokens, codec: &Tokens) -> Tokens {
    let mut pending = prefix;
    let mut steps = Vec::new();
    let newtype = !shape.named && !shape.unit && shape.wire.len() == 1 && shape.skipped.is_empty();
    if shape.named || shape.unit {
        pending.extend(map_header(shape.wire.len()));
    } else if !newtype {
        pending.extend(array_header(shape.wire.len()));
    }
    for (i, f) in shape.wire.iter().enumerate() {
        if shape.named {
            pending.extend(str_bytes(&f.name));
        }
        if !pending.is_empty() {
            let lit = bytes_lit(&pending);
            steps.push(quote!(__e.raw(#lit);));
            pending.clear();
        }
        let value = access(i, f);
        steps.push(quote!(#codec::Encode::encode(#value, __e)?;));
    }
    if !pending.is_empty() {
        let lit = bytes_lit(&pending);
        steps.push(quote!(__e.raw(#lit);));
    }
    quote!(#(#steps)*)
}

fn encode_struct(shape: &Shape, codec: &Tokens) -> Tokens {
    let steps = encode_fields(
        shape,
        Vec::new(),
        |_, f| {
            let m = &f.member;
            quote!(&self.#m)
        },
        codec,
    );
    quote! {
        #steps
        ::core::result::Result::Ok(())
    }
}

/// The binding a pattern gives field `i` of a variant.
fn binding(i: usize) -> Ident {
    format_ident!("__v{}", i)
}

fn encode_enum(variants: &[(Ident, String, Shape)], codec: &Tokens) -> Tokens {
    let arms = variants.iter().map(|(ident, wire, shape)| {
        if shape.unit {
            let lit = bytes_lit(&str_bytes(wire));
            return quote!(Self::#ident => __e.raw(#lit),);
        }
        let mut prefix = map_header(1);
        prefix.extend(str_bytes(wire));
        // Bind every field on the wire by its position among them; skipped ones with `_`.
        let members: Vec<Tokens> = shape
            .wire
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let m = &f.member;
                let b = binding(i);
                quote!(#m: #b)
            })
            .chain(shape.skipped.iter().map(|m| quote!(#m: _)))
            .collect();
        let steps = encode_fields(
            shape,
            prefix,
            |i, _| {
                let b = binding(i);
                quote!(#b)
            },
            codec,
        );
        quote!(Self::#ident { #(#members),* } => { #steps })
    });
    if variants.is_empty() {
        // No value of the type exists to encode.
        return quote!(match *self {});
    }
    quote! {
        match self {
            #(#arms)*
        }
        ::core::result::Result::Ok(())
    }
}

/// An expression that decodes a value laid out as `shape` from `__d` (struct fields
/// in map or array form, a tuple's array, a newtype's value) and builds it with the
/// constructor `ctor` (`Self` or `Self::Variant`).
fn decode_shape(shape: &Shape, ctor: Tokens, codec: &Tokens) -> Tokens {
    let skipped = shape.skipped.iter().map(|m| quote!(#m: ::core::default::Default::default()));
    if shape.unit || (shape.named && shape.wire.is_empty()) {
        // An empty struct: a map (or array) whose entries are all skipped.
        return quote! {{
            let (__len, __by_name) = __d.struct_len()?;
            for _ in 0..__len {
                if __by_name {
                    __d.key()?;
                }
                __d.skip()?;
            }
            #ctor { #(#skipped),* }
        }};
    }
    if !shape.named && shape.wire.len() == 1 && shape.skipped.is_empty() {
        return quote!(#ctor(#codec::Decode::decode(__d)?));
    }
    let slots: Vec<Ident> = (0..shape.wire.len()).map(|i| format_ident!("__f{}", i)).collect();
    if !shape.named {
        // A tuple: an array of at least its fields up to the first with `default`
        // (those after it have `default` too); the others, when the array stops
        // before them, are `Default::default()`; more elements are skipped.
        let n = shape.wire.len();
        let required = shape.wire.iter().take_while(|f| !f.default).count();
        let reads = shape.wire.iter().zip(&slots).enumerate().map(|(i, (f, slot))| {
            let ty = &f.ty;
            if f.default {
                quote! {
                    let #slot: #ty = if __len > #i {
                        #codec::Decode::decode(__d)?
                    } else {
                        ::core::default::Default::default()
                    };
                }
            } else {
                quote!(let #slot: #ty = #codec::Decode::decode(__d)?;)
            }
        });
        let members = shape.wire.iter().zip(&slots).map(|(f, slot)| {
            let m = &f.member;
            quote!(#m: #slot)
        });
        let names = (0..required).map(|i| i.to_string());
        let check = (required > 0).then(|| {
            quote! {
                if __len < #required {
                    const __NAMES: [&str; #required] = [#(#names),*];
                    return ::core::result::Result::Err(#codec::DecodeError::MissingField(__NAMES[__len]));
                }
            }
        });
        return quote! {{
            let __len = __d.array_len()?;
            #check
            #(#reads)*
            for _ in #n..__len {
                __d.skip()?;
            }
            #ctor { #(#members,)* #(#skipped),* }
        }};
    }
    let declare = shape.wire.iter().zip(&slots).map(|(f, slot)| {
        let ty = &f.ty;
        quote!(let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None;)
    });
    let arms = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| quote!(#i => #slot = ::core::option::Option::Some(#codec::Decode::decode(__d)?),));
    let members = shape.wire.iter().zip(&slots).map(|(f, slot)| {
        let m = &f.member;
        let ty = &f.ty;
        let missing = if f.default {
            quote!(::core::default::Default::default())
        } else {
            // What the type says a missing field is (`None` for any `Option`, under
            // whatever name), or an error.
            let name = &f.name;
            quote! {
                match <#ty as #codec::Decode>::missing() {
                    ::core::option::Option::Some(__value) => __value,
                    ::core::option::Option::None => {
                        return ::core::result::Result::Err(#codec::DecodeError::MissingField(#name));
                    }
                }
            }
        };
        quote! {
            #m: match #slot {
                ::core::option::Option::Some(__value) => __value,
                ::core::option::Option::None => #missing,
            }
        }
    });
    let mut lookup = quote!(::core::primitive::usize::MAX);
    for (i, f) in shape.wire.iter().enumerate().rev() {
        let lit = bytes_lit(f.name.as_bytes());
        lookup = quote!(if #codec::__key_is(__key, #lit) { #i } else { #lookup });
    }
    quote! {{
        #(#declare)*
        let (__len, __by_name) = __d.struct_len()?;
        for __i in 0..__len {
            let __index = if __by_name {
                let __key = __d.key()?;
                #lookup
            } else {
                __i
            };
            match __index {
                #(#arms)*
                _ => __d.skip()?,
            }
        }
        #ctor { #(#members,)* #(#skipped),* }
    }}
}

fn decode_struct(shape: &Shape, codec: &Tokens) -> Tokens {
    let value = decode_shape(shape, quote!(Self), codec);
    quote!(::core::result::Result::Ok(#value))
}

fn decode_enum(name: &Ident, variants: &[(Ident, String, Shape)], codec: &Tokens) -> Tokens {
    let unknown = format!("unknown variant of `{name}`");
    let bodiless = format!("a variant of `{name}` that needs a value came without one");
    let names = variants.iter().map(|(_, wire, _)| wire);
    let n = variants.len();
    let arms = variants.iter().enumerate().map(|(i, (ident, _, shape))| {
        let value = if shape.unit {
            quote! {{
                if __has_value {
                    __d.skip()?;
                }
                Self::#ident
            }}
        } else {
            let value = decode_shape(shape, quote!(Self::#ident), codec);
            quote! {{
                if !__has_value {
                    return ::core::result::Result::Err(#codec::DecodeError::Invalid(#bodiless));
                }
                #value
            }}
        };
        quote!(::core::option::Option::Some(#i) => ::core::result::Result::Ok(#value),)
    });
    quote! {
        const __NAMES: [&str; #n] = [#(#names),*];
        let (__index, __has_value) = __d.variant(&__NAMES)?;
        match __index {
            #(#arms)*
            _ => ::core::result::Result::Err(#codec::DecodeError::Invalid(#unknown)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde's `rename_all` gives, rule by rule: fields, then variants.
    #[test]
    fn rules_name_fields_and_variants_as_serde_does() {
        let fields = ["my_field", "x", "utf8_bytes_2", "a__b"];
        let variants = ["HTTPServer", "IOError", "ABCd", "MyVariant", "V2Data"];
        let want: [(&str, [&str; 4], [&str; 5]); 8] = [
            (
                "lowercase",
                ["my_field", "x", "utf8_bytes_2", "a__b"],
                ["httpserver", "ioerror", "abcd", "myvariant", "v2data"],
            ),
            (
                "UPPERCASE",
                ["MY_FIELD", "X", "UTF8_BYTES_2", "A__B"],
                ["HTTPSERVER", "IOERROR", "ABCD", "MYVARIANT", "V2DATA"],
            ),
            (
                "PascalCase",
                ["MyField", "X", "Utf8Bytes2", "AB"],
                ["HTTPServer", "IOError", "ABCd", "MyVariant", "V2Data"],
            ),
            (
                "camelCase",
                ["myField", "x", "utf8Bytes2", "aB"],
                ["hTTPServer", "iOError", "aBCd", "myVariant", "v2Data"],
            ),
            (
                "snake_case",
                ["my_field", "x", "utf8_bytes_2", "a__b"],
                ["h_t_t_p_server", "i_o_error", "a_b_cd", "my_variant", "v2_data"],
            ),
            (
                "SCREAMING_SNAKE_CASE",
                ["MY_FIELD", "X", "UTF8_BYTES_2", "A__B"],
                ["H_T_T_P_SERVER", "I_O_ERROR", "A_B_CD", "MY_VARIANT", "V2_DATA"],
            ),
            (
                "kebab-case",
                ["my-field", "x", "utf8-bytes-2", "a--b"],
                ["h-t-t-p-server", "i-o-error", "a-b-cd", "my-variant", "v2-data"],
            ),
            (
                "SCREAMING-KEBAB-CASE",
                ["MY-FIELD", "X", "UTF8-BYTES-2", "A--B"],
                ["H-T-T-P-SERVER", "I-O-ERROR", "A-B-CD", "MY-VARIANT", "V2-DATA"],
            ),
        ];
        for (rule, want_fields, want_variants) in want {
            let case = CASES.iter().find(|(name, _)| *name == rule).unwrap().1;
            let got: Vec<String> = fields.iter().map(|f| case.apply_to_field(f)).collect();
            assert_eq!(got, want_fields, "{rule}");
            let got: Vec<String> = variants.iter().map(|v| case.apply_to_variant(v)).collect();
            assert_eq!(got, want_variants, "{rule}");
        }
    }

    fn error(input: DeriveInput) -> String {
        match expand(&input, Trait::Decode, "hookr_abi") {
            Ok(_) => panic!("expanded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn default_on_a_tuple_field_that_can_never_be_missing_is_refused() {
        let e = error(syn::parse_quote!(
            struct S(#[codec(default)] u8, u8);
        ));
        assert!(e.starts_with("a tuple field after one with `default` needs `default` too"), "{e}");
        let e = error(syn::parse_quote!(
            enum E {
                V(u8, #[codec(default)] u8, #[codec(skip)] u8, u16),
            }
        ));
        assert!(e.starts_with("a tuple field after one with `default` needs `default` too"), "{e}");
        let e = error(syn::parse_quote!(
            struct N(#[codec(default)] u8);
        ));
        assert!(e.starts_with("`default` has nothing to fill here: a newtype"), "{e}");
        // Trailing, and a newtype's field beside a skipped one (an array of one): fine.
        let fine: [DeriveInput; 3] = [
            syn::parse_quote!(
                struct S(u8, #[codec(default)] u8, #[codec(skip)] u8, #[codec(default)] u8);
            ),
            syn::parse_quote!(
                struct T(#[codec(default)] u8, #[codec(skip)] u8);
            ),
            syn::parse_quote!(
                enum E {
                    V(u8, #[codec(default)] u8),
                }
            ),
        ];
        for input in fine {
            assert!(expand(&input, Trait::Decode, "hookr_abi").is_ok());
        }
    }
}
