//! `load_invoke`: arbitrary bytes as a plugin module. Loading and calling it may fail in
//! any way, but must not panic, hang or take more than the limits allow.

use hookr::{HostError, Runtime};

/// Fuel for each call and each initialiser: enough for real work, little enough that an
/// endless loop ends in milliseconds.
pub const FUEL: u64 = 200_000;
/// The largest linear memory, in 64 KiB pages.
pub const MAX_PAGES: u32 = 4;

/// The operations and payloads tried on a module that loads.
const CALLS: &[(&str, &[u8])] = &[
    ("echo", b"Steve"),
    ("", b""),
    ("vowel", b"aeiou"),
    ("nope", b"\x81\xa4data\xa5Steve"),
    ("echoByte", &[0xff; 64]),
];

pub fn run(data: &[u8]) {
    let built = Runtime::builder(0u32)
        .bytes(data)
        .fuel(FUEL)
        .init_fuel(FUEL)
        .max_memory_pages(MAX_PAGES)
        .deterministic()
        .logger(|_| {})
        .host_fn("helloByte", |calls: &mut u32, payload, out| {
            *calls += 1;
            out.extend_from_slice(b"Hello, ");
            out.extend_from_slice(payload);
            Ok(())
        })
        .call_handler(|_, op, _, _| Err(HostError::from(format!("no such host function `{op}`"))))
        .build();
    let Ok(mut rt) = built else {
        return;
    };
    check_limits(&rt);
    let mut out = Vec::new();
    for (op, payload) in CALLS {
        let _ = rt.invoke_into(op, payload, &mut out);
        check_limits(&rt);
        // A failed call leaves nothing behind in the caller's buffer.
        if let Err(e) = rt.invoke_into(op, payload, &mut out) {
            assert!(out.is_empty(), "a failed call ({e}) left {} bytes", out.len());
        }
        check_limits(&rt);
    }
}

fn check_limits<T>(rt: &Runtime<T>) {
    assert!(rt.memory_size() <= MAX_PAGES as usize * 65536, "memory grew to {} bytes", rt.memory_size());
    if let Some(left) = rt.fuel_left() {
        assert!(left <= FUEL, "{left} fuel left of {FUEL}");
    }
}
