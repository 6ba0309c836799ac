//! `hookr-pages IN.wasm OUT.wasm --heap BYTES [--max BYTES]`: writes IN with its memory
//! given 1-byte pages, `__heap_base` plus BYTES of heap to start with (see the crate
//! docs). Prints what it did; exits 1 on a module it cannot resize, 2 on bad arguments.

use std::process::ExitCode;

const USAGE: &str = "usage: hookr-pages IN.wasm OUT.wasm --heap BYTES [--max BYTES]
  Gives the memory of IN 1-byte pages (the Wasm custom-page-sizes proposal): its stack
  and static data (everything below __heap_base) plus BYTES of heap. --max bounds
  how far it may grow, in bytes (default: the module's own maximum, or none).";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, message)) => {
            eprintln!("hookr-pages: {message}");
            ExitCode::from(status)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), (u8, String)> {
    let usage = |why: &str| (2, format!("{why}\n{USAGE}"));
    let bytes = |value: Option<&String>, name: &str| {
        value.and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| usage(&format!("{name} takes a number of bytes")))
    };
    let (mut paths, mut heap, mut max) = (Vec::new(), None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--heap" => heap = Some(bytes(args.next(), "--heap")?),
            "--max" => max = Some(bytes(args.next(), "--max")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other if other.starts_with('-') => return Err(usage(&format!("unknown option `{other}`"))),
            path => paths.push(path),
        }
    }
    let ([input, output], Some(heap)) = (paths.as_slice(), heap) else {
        return Err(usage("give IN, OUT and --heap"));
    };
    let wasm = std::fs::read(input).map_err(|e| (1, format!("cannot read {input}: {e}")))?;
    let resized =
        hookr_pages::resize(&wasm, hookr_pages::Request { heap, max }).map_err(|e| (1, format!("{input}: {e}")))?;
    std::fs::write(output, &resized.wasm).map_err(|e| (1, format!("cannot write {output}: {e}")))?;
    let max = resized.max.map_or("none".to_string(), |m| format!("{m} bytes"));
    println!(
        "{output}: memory of 1-byte pages, {} bytes ({} of stack and static data + {heap} of heap; was {}), max {max}",
        resized.min, resized.heap_base, resized.old_min
    );
    Ok(())
}
