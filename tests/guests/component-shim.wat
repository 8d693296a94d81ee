;; The shape wit-component gives a command: the lifted run passes through a nested component
;; that re-exports it, and the core module gets its host functions through a shim module's
;; table that a fixup module fills after the main module exists. Used by
;; cli/tests/components.rs and as a base of the bytes fuzz target.
(component
  (import "wafer:hal/buses@0.1.0" (instance $b
    (export "delay" (type (sub resource)))
    (type (own 0))
    (export "open-delay" (func (result 1)))))
  (core module $shim
    (type $t (func (result i32)))
    (table (export "$imports") 1 1 funcref)
    (func (export "0") (result i32) (call_indirect (type $t) (i32.const 0))))
  (core module $main
    (import "hal" "open-delay" (func $open (result i32)))
    (memory (export "memory") 1)
    (func (export "run") (result i32)
      ;; The first handle of a fresh component is 1.
      (i32.ne (call $open) (i32.const 1))))
  (core module $fixup
    (import "" "$imports" (table 1 1 funcref))
    (import "" "0" (func $f (result i32)))
    (elem (i32.const 0) func $f))
  (core instance $s (instantiate $shim))
  (alias core export $s "0" (core func $indirect))
  (core instance $hal (export "open-delay" (func $indirect)))
  (core instance $m (instantiate $main (with "hal" (instance $hal))))
  (alias core export $m "memory" (core memory $mem))
  (alias export $b "open-delay" (func $open))
  (core func $open_c (canon lower (func $open) (memory $mem)))
  (alias core export $s "$imports" (core table $tbl))
  (core instance $args (export "$imports" (table $tbl)) (export "0" (func $open_c)))
  (core instance (instantiate $fixup (with "" (instance $args))))
  (func $run (result (result)) (canon lift (core func $m "run")))
  (component $run-shim
    (import "import-func-run" (func $f (result (result))))
    (export "run" (func $f)))
  (instance $r (instantiate $run-shim (with "import-func-run" (func $run))))
  (export "wasi:cli/run@0.2.0" (instance $r)))
