//! `hookr inspect`: what a module imports and exports, and whether it is a plugin, of
//! the hookr or the waPC ABI.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hookr::abi_names as abi;
use hookr::wasmi::{self, ExternType, FuncType, ValType};
use hookr::Abi;

use crate::{read_module, write_stdout, Failure, EXIT_LOAD};

pub fn run(path: &Path) -> Result<(), Failure> {
    let bytes = read_module(path)?;
    // hookr's engine settings: 1-byte pages (custom-page-sizes) are accepted as hookr
    // accepts them. Validates every function body, not only the module's structure.
    let engine = hookr::EngineConfig::default().engine().map_err(|e| Failure::new(EXIT_LOAD, e.to_string()))?;
    let module = wasmi::Module::new(&engine, &bytes)
        .map_err(|e| Failure::new(EXIT_LOAD, format!("invalid module `{}`: {e}", path.display())))?;
    write_stdout(report(path, &bytes, &module).as_bytes())
}

fn report(path: &Path, bytes: &[u8], module: &wasmi::Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "file:     {}", plain(&path.display().to_string()));
    let _ = writeln!(out, "size:     {} bytes", bytes.len());
    let _ = writeln!(out, "sha256:   {}", hookr::to_hex(&hookr::sha256(bytes)));
    let _ = writeln!(out, "valid:    yes");
    let (abi, problems) = abi_problems(module);
    match abi {
        Some(abi) if problems.is_empty() => {
            let wasi = module.imports().any(|i| i.module() == abi::WASI_MODULE);
            let _ = writeln!(out, "abi:      {abi}{}", if wasi { " (with WASI)" } else { "" });
        }
        _ => {
            let _ = writeln!(out, "abi:      not hookr or waPC");
            for p in &problems {
                let _ = writeln!(out, "  - {}", plain(p));
            }
        }
    }

    // Page sizes of the memories the module defines (an imported memory's is not shown).
    let page_sizes = hookr::memory_page_sizes(bytes).unwrap_or_default();
    let mut memories = Vec::new();
    let mut by_module: BTreeMap<&str, Vec<(&str, String)>> = BTreeMap::new();
    for import in module.imports() {
        by_module.entry(import.module()).or_default().push((import.name(), describe(import.ty())));
        if let ExternType::Memory(ty) = import.ty() {
            memories.push((format!("imported `{}::{}`", plain(import.module()), plain(import.name())), *ty, None));
        }
    }
    let count = module.imports().len();
    let _ = writeln!(out, "imports:  {count}");
    for (name, items) in &by_module {
        let _ = writeln!(out, "  {}", plain(name));
        for (item, ty) in items {
            let _ = writeln!(out, "    {}: {ty}", plain(item));
        }
    }

    let _ = writeln!(out, "exports:  {}", module.exports().count());
    for export in module.exports() {
        let _ = writeln!(out, "  {}: {}", plain(export.name()), describe(export.ty()));
        if let ExternType::Memory(ty) = export.ty() {
            // A plugin defines one memory; with several, which one is exported is not
            // worked out here.
            let page = if page_sizes.len() == 1 { page_sizes.first().copied() } else { None };
            memories.push((format!("exported `{}`", plain(export.name())), *ty, page));
        }
    }

    if memories.is_empty() {
        let _ = writeln!(out, "memory:   none imported or exported");
    }
    for (what, ty, page) in memories {
        let _ = writeln!(out, "memory:   {what}: {}", memory_size(&ty, page));
    }
    out
}

/// `s` with its control characters escaped (`\n`, `\u{1b}`): a module's names are the
/// module author's, and must not add lines to the report or reach the terminal as
/// escape sequences.
fn plain(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect())
}

/// The ABI the module uses, and why it does not load as a plugin (empty when it does).
fn abi_problems(module: &wasmi::Module) -> (Option<Abi>, Vec<String>) {
    let mut problems = Vec::new();
    match module.get_export(abi::MEMORY) {
        Some(ExternType::Memory(_)) => {}
        Some(_) => problems.push(format!("`{}` is exported but is not a memory", abi::MEMORY)),
        None => problems.push(format!("does not export `{}`", abi::MEMORY)),
    }
    let abi = Abi::detect(module).map_err(|e| problems.push(e.to_string())).ok();
    for import in module.imports() {
        if let Err(e) = hookr::check_import(import.module(), import.name(), import.ty()) {
            problems.push(e.to_string());
        }
    }
    (abi, problems)
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func {}", signature(f)),
        ExternType::Memory(m) => {
            let max = m.maximum().map_or_else(String::new, |m| m.to_string());
            format!("memory {}..{max} pages{}", m.minimum(), if m.is_64() { " (64-bit)" } else { "" })
        }
        ExternType::Table(t) => {
            let max = t.maximum().map_or_else(String::new, |m| m.to_string());
            format!("table {} {}..{max}", val_type(&t.element().into()), t.minimum())
        }
        ExternType::Global(g) => {
            let mutable = matches!(g.mutability(), wasmi::Mutability::Var);
            format!("global {}{}", if mutable { "mut " } else { "" }, val_type(&g.content()))
        }
    }
}

/// A memory's size in bytes and pages: `65536 bytes min, max none (pages of 65536 B: 1
/// min)`; `page` is its page size, when known.
fn memory_size(ty: &wasmi::MemoryType, page: Option<u64>) -> String {
    let Some(page) = page.map(u128::from) else {
        let max = ty.maximum().map_or_else(|| "none".to_string(), |m| m.to_string());
        return format!("{} pages min, max {max}", ty.minimum());
    };
    let max = ty.maximum().map_or_else(|| "none".to_string(), |m| (u128::from(m) * page).to_string());
    let max_pages = ty.maximum().map_or_else(String::new, |m| format!(", {m} max"));
    format!(
        "{} bytes min, max {max} (pages of {page} B: {} min{max_pages})",
        u128::from(ty.minimum()) * page,
        ty.minimum()
    )
}

fn signature(f: &FuncType) -> String {
    let list = |tys: &[ValType]| tys.iter().map(val_type).collect::<Vec<_>>().join(", ");
    match f.results() {
        [] => format!("({})", list(f.params())),
        results => format!("({}) -> {}", list(f.params()), list(results)),
    }
}

fn val_type(t: &ValType) -> String {
    match t {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        ValType::FuncRef => "funcref".into(),
        ValType::ExternRef => "externref".into(),
    }
}
