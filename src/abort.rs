//! `env.abort`: how an AssemblyScript plugin reports a failed assertion or an error it
//! throws. The call fails with [`Error::Plugin`](crate::Error::Plugin) carrying the
//! message, file, line and column, and the plugin starts afresh for the next call, as
//! after a trap.

use alloc::string::String;

use wasmi::Caller;

use crate::abi::{guest_range, with_memory};
use crate::error::Error;
use crate::error_text;
use crate::imports::Definitions;
use crate::runtime::CtxBox;

/// The module and name of the import.
pub(crate) const MODULE: &str = "env";
pub(crate) const NAME: &str = "abort";

/// Whether `module` imports `env.abort`.
pub(crate) fn imported(module: &wasmi::Module) -> bool {
    module.imports().any(|i| (i.module(), i.name()) == (MODULE, NAME))
}

/// An AssemblyScript string: UTF-16LE at `ptr`, its length in bytes in the `u32` at
/// `ptr - 4`. Empty for a null pointer, and `None` for one that does not lie in memory.
fn read_string(data: &[u8], ptr: i32) -> Option<&[u8]> {
    if ptr == 0 {
        return Some(&[]);
    }
    let header = guest_range(data.len(), (ptr as u32).checked_sub(4)? as i32, 4)?;
    let len = u32::from_le_bytes(data[header].try_into().ok()?);
    let range = guest_range(data.len(), ptr, len as i32)?;
    Some(&data[range])
}

/// Defines `env.abort(message, file, line, column)`.
pub(crate) fn link(defs: &mut Definitions<'_>) {
    defs.func(
        MODULE,
        NAME,
        |mut caller: Caller<'_, CtxBox>, message: i32, file: i32, line: i32, column: i32| -> Result<(), wasmi::Error> {
            with_memory(&mut caller, |data, ctx| {
                let (Some(message), Some(file)) = (read_string(data, message), read_string(data, file)) else {
                    return Err(Error::plugin("abort called with a string outside the plugin's memory").into());
                };
                // Reading the strings is work in proportion to their length.
                ctx.meter.charge_bytes(message.len() + file.len())?;
                let mut text = String::new();
                error_text::abort_message(&mut text, message, file, line, column, ctx.limits.max_error);
                Err(Error::plugin(text).into())
            })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_read_with_their_length_before_them() {
        let mut mem = [0u8; 32];
        mem[4..8].copy_from_slice(&6u32.to_le_bytes());
        mem[8..14].copy_from_slice(&[b'h', 0, b'i', 0, 0x3d, 0xd8]);
        assert_eq!(read_string(&mem, 8), Some(&mem[8..14]));
        assert_eq!(read_string(&mem, 0), Some(&[][..]));
        assert_eq!(read_string(&mem, 2), None, "the length would start before memory");
        mem[4..8].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(read_string(&mem, 8), None, "past the end");
    }

    #[test]
    fn the_text_is_decoded_and_cut_as_every_error_text() {
        let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<alloc::vec::Vec<u8>>();
        let mut text = String::new();
        crate::error_text::abort_message(&mut text, &utf16("boom"), &utf16("a.ts"), 12, 5, 1000);
        assert_eq!(text, "abort: boom at a.ts:12:5");
        crate::error_text::abort_message(&mut text, &utf16("boom"), &[], 0, 0, 1000);
        assert_eq!(text, "abort: boom");
        // "hi" then a lone surrogate, repaired.
        crate::error_text::abort_message(&mut text, &[b'h', 0, b'i', 0, 0x3d, 0xd8], &[], 0, 0, 1000);
        assert_eq!(text, "abort: hi\u{fffd}");
        // Cut to 8 bytes, at a character boundary, with the whole text's length.
        crate::error_text::abort_message(&mut text, &utf16("€€€€€€€€"), &utf16("€€€€"), 1, 2, 8);
        assert_eq!(text, "abort:  … [truncated from 51 bytes]");
        crate::error_text::abort_message(&mut text, &utf16("€€€€€€€€"), &[], 1, 2, 13);
        assert_eq!(text, "abort: €€ … [truncated from 31 bytes]");
    }
}
