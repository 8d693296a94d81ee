;; wasi-threads written by hand, with no libc in between: `_start` spawns 4 threads through
;; `wasi.thread-spawn`; each adds 1 to a shared counter 1000 times with `i32.atomic.rmw.add`,
;; then counts itself done and wakes the waiter with `memory.atomic.notify`. `_start` sleeps in
;; `memory.atomic.wait32` until all 4 are done, prints the counter (4000) and exits 0; it exits
;; 1 if the count is wrong and 2 if a spawn is refused.
;;
;; Memory layout: 0 counter, 4 done, 16 the iovec for fd_write, 32.. the printed digits.
(module
  (import "env" "memory" (memory 1 1 shared))
  ;; Re-exported, as WASI's functions find the caller's memory by this export.
  (export "memory" (memory 0))
  (import "wasi" "thread-spawn" (func $thread_spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  (global $threads i32 (i32.const 4))
  (global $adds i32 (i32.const 1000))

  ;; A spawned thread: its id, and the argument given to thread-spawn (unused).
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (local $i i32)
    (loop $add
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $add (i32.lt_u (local.get $i) (global.get $adds))))
    (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 4) (i32.const 1))))

  ;; Writes `value` in decimal and a newline to stdout.
  (func $print (param $value i32)
    (local $end i32) (local $at i32)
    (local.set $end (i32.const 48))
    (i32.store8 (local.get $end) (i32.const 10))
    (local.set $at (local.get $end))
    (loop $digit
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at)
        (i32.add (i32.const 48) (i32.rem_u (local.get $value) (i32.const 10))))
      (local.set $value (i32.div_u (local.get $value) (i32.const 10)))
      (br_if $digit (local.get $value)))
    (i32.store (i32.const 16) (local.get $at))
    (i32.store (i32.const 20) (i32.sub (i32.add (local.get $end) (i32.const 1)) (local.get $at)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))

  (func (export "_start")
    (local $i i32) (local $done i32)
    (loop $spawn
      (if (i32.le_s (call $thread_spawn (local.get $i)) (i32.const 0))
        (then (call $proc_exit (i32.const 2))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spawn (i32.lt_u (local.get $i) (global.get $threads))))
    ;; Sleep while `done` still holds the value just read; a wake-up re-reads it.
    (block $all_done
      (loop $wait
        (local.set $done (i32.atomic.load (i32.const 4)))
        (br_if $all_done (i32.ge_u (local.get $done) (global.get $threads)))
        (drop (memory.atomic.wait32 (i32.const 4) (local.get $done) (i64.const -1)))
        (br $wait)))
    (call $print (i32.atomic.load (i32.const 0)))
    (call $proc_exit
      (i32.ne (i32.atomic.load (i32.const 0))
        (i32.mul (global.get $threads) (global.get $adds))))))
