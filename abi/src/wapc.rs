//! The waPC ABI, as its specification has it: the names a waPC guest (built with
//! `wapc-guest`, or the AssemblyScript, TinyGo, Zig or C# waPC kits) imports and
//! exports.
//!
//! Every import means what its hookr counterpart at the crate root means, under another
//! name; `__host_call` also carries a binding and a namespace before the operation.

/// The module name of the waPC host imports.
pub const HOST_MODULE: &str = "wapc";

/// Host import `__guest_request(op_ptr, payload_ptr)`: the host writes the operation
/// name and the payload into guest memory (hookr's [`PLUGIN_REQUEST`](crate::PLUGIN_REQUEST)).
pub const GUEST_REQUEST: &str = "__guest_request";
/// Host import `__guest_response(ptr, len)`: the guest hands its response.
pub const GUEST_RESPONSE: &str = "__guest_response";
/// Host import `__guest_error(ptr, len)`: the guest hands an error message.
pub const GUEST_ERROR: &str = "__guest_error";
/// Host import `__host_call(binding_ptr, binding_len, namespace_ptr, namespace_len,
/// op_ptr, op_len, payload_ptr, payload_len) -> i32`: 1 ok, 0 error.
pub const HOST_CALL: &str = "__host_call";
/// Host import `__host_response_len() -> i32`.
pub const HOST_RESPONSE_LEN: &str = "__host_response_len";
/// Host import `__host_response(ptr)`.
pub const HOST_RESPONSE: &str = "__host_response";
/// Host import `__host_error_len() -> i32`.
pub const HOST_ERROR_LEN: &str = "__host_error_len";
/// Host import `__host_error(ptr)`.
pub const HOST_ERROR: &str = "__host_error";
/// Host import `__console_log(ptr, len)`: a UTF-8 log line.
pub const CONSOLE_LOG: &str = "__console_log";

/// All nine host imports of the `wapc` module.
pub const HOST_IMPORTS: [&str; 9] = [
    GUEST_REQUEST,
    GUEST_RESPONSE,
    GUEST_ERROR,
    HOST_CALL,
    HOST_RESPONSE_LEN,
    HOST_RESPONSE,
    HOST_ERROR_LEN,
    HOST_ERROR,
    CONSOLE_LOG,
];

/// Guest export `__guest_call(op_len, payload_len) -> i32`: 1 on success, 0 on failure.
pub const GUEST_CALL: &str = "__guest_call";
/// Optional guest initialisers, run once at instantiation in this order: TinyGo's
/// `_start`, then `wapc_init`, where a guest registers its functions.
pub const INITIALISERS: [&str; 2] = ["_start", "wapc_init"];
