;; Misbehaves according to the length of the operation name: loops, recurses, traps,
;; grows memory without end, or hands the host wild pointers.
(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $recurse (param i32) (result i32) (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (if (i32.eq (local.get $op) (i32.const 0)) (then (loop $l (br $l))))
    (if (i32.eq (local.get $op) (i32.const 1)) (then (return (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 4)) (then
      (block $done (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))))
    (if (i32.eq (local.get $op) (i32.const 5)) (then (call $req (i32.const -8) (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 8)) (then
      (drop (call $call (i32.const 0) (i32.const 70000) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 9)) (then (call $resp (i32.const 65530) (i32.const 100))))
    (if (i32.eq (local.get $op) (i32.const 17)) (then unreachable))
    (i32.const 0)))
