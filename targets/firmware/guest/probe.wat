;; Probe plugin for the firmware example: imports one host function and calls it
;; from a loop, through a guest-internal call, keeping its state in linear memory.
;; Built into probe.wasm with `wat2wasm probe.wat -o probe.wasm` (Debian: wabt);
;; run.sh rebuilds it and checks the committed bytes match.
(module
  (import "env" "tick" (func $tick (param i32) (result i32)))
  (memory (export "memory") 1)

  ;; One iteration: acc = acc * 31 + tick(i), with acc at address 0.
  (func $step (param $i i32)
    (i32.store (i32.const 0)
      (i32.add
        (i32.mul (i32.load (i32.const 0)) (i32.const 31))
        (call $tick (local.get $i)))))

  ;; Runs `n` iterations from acc = 0 and returns the final acc.
  (func (export "run") (param $n i32) (result i32)
    (local $i i32)
    (i32.store (i32.const 0) (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $step (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.load (i32.const 0))))
