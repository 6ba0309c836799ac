//! The raw hookr host imports (module `"hookr"`, see DESIGN.md). Pointers and lengths
//! are 32-bit on wasm32, so they lower to the `i32` parameters of the ABI.

use hookr_abi as abi;

#[link(wasm_import_module = "hookr")]
extern "C" {
    #[link_name = "__plugin_request"]
    pub fn plugin_request(op_ptr: *mut u8, payload_ptr: *mut u8);
    #[link_name = "__plugin_response"]
    pub fn plugin_response(ptr: *const u8, len: usize);
    #[link_name = "__plugin_error"]
    pub fn plugin_error(ptr: *const u8, len: usize);
    #[link_name = "__host_call"]
    pub fn host_call(
        op_ptr: *const u8,
        op_len: usize,
        payload_ptr: *const u8,
        payload_len: usize,
    ) -> i32;
    #[link_name = "__host_response_len"]
    pub fn host_response_len() -> i32;
    #[link_name = "__host_response"]
    pub fn host_response(ptr: *mut u8);
    #[link_name = "__host_error_len"]
    pub fn host_error_len() -> i32;
    #[link_name = "__host_error"]
    pub fn host_error(ptr: *mut u8);
    #[link_name = "__log"]
    pub fn log(ptr: *const u8, len: usize);
}

// Attributes need literals, so the names above are spelled out; these checks tie them
// to hookr-abi at compile time.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = {
    assert!(same(abi::HOST_MODULE, "hookr"));
    assert!(same(abi::PLUGIN_REQUEST, "__plugin_request"));
    assert!(same(abi::PLUGIN_RESPONSE, "__plugin_response"));
    assert!(same(abi::PLUGIN_ERROR, "__plugin_error"));
    assert!(same(abi::HOST_CALL, "__host_call"));
    assert!(same(abi::HOST_RESPONSE_LEN, "__host_response_len"));
    assert!(same(abi::HOST_RESPONSE, "__host_response"));
    assert!(same(abi::HOST_ERROR_LEN, "__host_error_len"));
    assert!(same(abi::HOST_ERROR, "__host_error"));
    assert!(same(abi::LOG, "__log"));
    assert!(same(abi::PLUGIN_CALL, "__plugin_call"));
};
