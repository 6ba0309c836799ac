;; The smallest plugin: answers every call with its payload.
(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (local.get $op))
    (call $resp (local.get $op) (local.get $len))
    (i32.const 1)))
