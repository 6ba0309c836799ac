//! The functions of the Go hookr test plugin, with the same names and behaviour, so
//! host tests can run one plugin in both languages:
//!
//! - `echo` (typed): `{"data": s}` → host `hello` with `{"msg": s}` → its `{"msg": r}`
//!   comes back as `{"data": r}`.
//! - `nope`: always fails with `planned Failure`.
//! - `echoByte`: the payload goes to host `helloByte`; its reply comes back unchanged.
//! - `vowel`: the number of ASCII vowels in the payload, as decimal text (`"3"`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use hookr_guest::codec;
use hookr_guest::{host_call_into, host_call_typed, Error};

mod messages;
use messages::{Echo, Hello};

hookr_guest::plugin! {
    typed "echo" => echo,
    bytes "nope" => nope,
    bytes "echoByte" => echo_byte,
    bytes "vowel" => vowel,
}

fn echo(request: Echo) -> Result<Echo, Error> {
    let reply: Hello = host_call_typed("hello", &Hello { msg: request.data })?;
    Ok(Echo { data: reply.msg })
}

fn nope(_payload: &[u8], _out: &mut Vec<u8>) -> Result<(), Error> {
    Err(Error::new("planned Failure"))
}

fn echo_byte(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    host_call_into("helloByte", payload, out)?;
    Ok(())
}

fn vowel(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let count: usize = payload.iter().map(|&b| usize::from(VOWELS[usize::from(b)])).sum();
    write_decimal(count, out);
    Ok(())
}

/// 1 for the ASCII vowels, either case, 0 for every other byte. The interpreter pays
/// per instruction: a table load is a few of them a byte, where lowering the case and
/// matching five letters compiled to about 35.
static VOWELS: [u8; 256] = {
    let mut table = [0u8; 256];
    let vowels = b"aeiouAEIOU";
    let mut i = 0;
    while i < vowels.len() {
        table[vowels[i] as usize] = 1;
        i += 1;
    }
    table
};

/// Appends `n` in decimal, without going through `core::fmt`.
fn write_decimal(mut n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}
