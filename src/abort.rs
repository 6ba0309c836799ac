//! `env.abort`: how an AssemblyScript plugin reports a failed assertion or an error it
//! throws. The call fails with [`Error::Plugin`](crate::Error::Plugin) carrying the
//! message, file, line and column, and the plugin starts afresh for the next call, as
//! after a trap.

use alloc::string::String;

use wasmi::{Caller, Linker};

use crate::abi::{guest_range, with_memory};
use crate::error::Error;
use crate::runtime::Ctx;

/// The module and name of the import.
pub(crate) const MODULE: &str = "env";
pub(crate) const NAME: &str = "abort";

/// Whether `module` imports `env.abort`.
pub(crate) fn imported(module: &wasmi::Module) -> bool {
    module.imports().any(|i| (i.module(), i.name()) == (MODULE, NAME))
}

/// An AssemblyScript string: UTF-16LE at `ptr`, its length in bytes in the `u32` at
/// `ptr - 4`. Empty for a null pointer, and `None` for one that does not lie in memory;
/// at most `max` bytes of it are read.
fn read_string(data: &[u8], ptr: i32, max: usize) -> Option<(String, usize)> {
    if ptr == 0 {
        return Some((String::new(), 0));
    }
    let header = guest_range(data.len(), (ptr as u32).checked_sub(4)? as i32, 4)?;
    let len = u32::from_le_bytes(data[header].try_into().ok()?);
    let range = guest_range(data.len(), ptr, len as i32)?;
    let kept = &data[range.start..range.start + range.len().min(max) / 2 * 2];
    let units = kept.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    let text = char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
    Some((text, kept.len()))
}

/// Defines `env.abort(message, file, line, column)` in `linker`.
pub(crate) fn link(linker: &mut Linker<Ctx>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        MODULE,
        NAME,
        |mut caller: Caller<'_, Ctx>, message: i32, file: i32, line: i32, column: i32| -> Result<(), wasmi::Error> {
            with_memory(&mut caller, |data, ctx| {
                let max = ctx.limits.max_error;
                let (Some((message, m)), Some((file, f))) =
                    (read_string(data, message, max), read_string(data, file, max))
                else {
                    return Err(Error::plugin("abort called with a string outside the plugin's memory").into());
                };
                ctx.meter.charge_bytes(m + f)?;
                let at = if file.is_empty() { String::new() } else { alloc::format!(" at {file}:{line}:{column}") };
                Err(Error::plugin(alloc::format!("abort: {message}{at}")).into())
            })
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_read_with_their_length_before_them() {
        let mut mem = [0u8; 32];
        mem[4..8].copy_from_slice(&6u32.to_le_bytes());
        mem[8..14].copy_from_slice(&[b'h', 0, b'i', 0, 0x3d, 0xd8]);
        // "hi" then a lone surrogate, repaired.
        assert_eq!(read_string(&mem, 8, 100), Some(("hi\u{fffd}".into(), 6)));
        assert_eq!(read_string(&mem, 8, 3), Some(("h".into(), 2)));
        assert_eq!(read_string(&mem, 0, 100), Some((String::new(), 0)));
        assert_eq!(read_string(&mem, 2, 100), None, "the length would start before memory");
        mem[4..8].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(read_string(&mem, 8, 100), None, "past the end");
    }
}
