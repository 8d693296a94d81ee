;; Compare-exchange on 8- and 16-bit values, from 8 threads at once (7 spawned with
;; `wasi.thread-spawn`, plus `_start`): each adds 1 to three narrow counters 50000 times with
;; load + `cmpxchg` retry loops. A compare-exchange that is not one atomic step loses
;; increments. riscv64 has no narrow LR/SC, so those are masked loops on the containing
;; 32-bit word, where a second load between the compare and the store-conditional breaks
;; atomicity; neighbours in the same word (offsets 1, 2 and 6) make the masking matter.
;;
;; Prints `ok` and exits 0 when every counter holds 8 x 50000 (mod its width), else prints
;; `lost updates` and exits 1.
;;
;; Memory layout: 1 u8 counter, 2 u8 counter (i64 form), 6 u16 counter, 12 threads done,
;; 16 the iovec, 32.. the message.
(module
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (import "wasi" "thread-spawn" (func $thread_spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (data (i32.const 32) "ok\nlost updates\n")

  (global $spawned i32 (i32.const 7))
  (global $adds i32 (i32.const 50000))

  (func $count
    (local $i i32) (local $old i32) (local $old64 i64)
    (loop $next
      (loop $retry
        (local.set $old (i32.atomic.load8_u (i32.const 1)))
        (br_if $retry
          (i32.ne (local.get $old)
            (i32.atomic.rmw8.cmpxchg_u (i32.const 1)
              (local.get $old) (i32.add (local.get $old) (i32.const 1))))))
      (loop $retry
        (local.set $old64 (i64.atomic.load8_u (i32.const 2)))
        (br_if $retry
          (i64.ne (local.get $old64)
            (i64.atomic.rmw8.cmpxchg_u (i32.const 2)
              (local.get $old64) (i64.add (local.get $old64) (i64.const 1))))))
      (loop $retry
        (local.set $old (i32.atomic.load16_u (i32.const 6)))
        (br_if $retry
          (i32.ne (local.get $old)
            (i32.atomic.rmw16.cmpxchg_u (i32.const 6)
              (local.get $old) (i32.add (local.get $old) (i32.const 1))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (global.get $adds)))))

  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (call $count)
    (drop (i32.atomic.rmw.add (i32.const 12) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 12) (i32.const 1))))

  (func $say (param $at i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $at))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))

  (func (export "_start")
    (local $i i32) (local $done i32) (local $total i32)
    (loop $spawn
      (if (i32.le_s (call $thread_spawn (i32.const 0)) (i32.const 0))
        (then (call $proc_exit (i32.const 2))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spawn (i32.lt_u (local.get $i) (global.get $spawned))))
    (call $count)
    (block $all_done
      (loop $wait
        (local.set $done (i32.atomic.load (i32.const 12)))
        (br_if $all_done (i32.ge_u (local.get $done) (global.get $spawned)))
        (drop (memory.atomic.wait32 (i32.const 12) (local.get $done) (i64.const -1)))
        (br $wait)))
    (local.set $total
      (i32.mul (i32.add (global.get $spawned) (i32.const 1)) (global.get $adds)))
    (if (i32.and
          (i32.and
            (i32.eq (i32.load8_u (i32.const 1)) (i32.and (local.get $total) (i32.const 0xff)))
            (i32.eq (i32.load8_u (i32.const 2)) (i32.and (local.get $total) (i32.const 0xff))))
          (i32.eq (i32.load16_u (i32.const 6)) (i32.and (local.get $total) (i32.const 0xffff))))
      (then
        (call $say (i32.const 32) (i32.const 3))
        (call $proc_exit (i32.const 0))))
    (call $say (i32.const 35) (i32.const 13))
    (call $proc_exit (i32.const 1))))
