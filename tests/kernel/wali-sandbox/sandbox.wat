;; The rig's WALI sandbox check (tests/kernel/run.sh): a WALI program, written against the
;; syscalls directly, that tries what its build did or did not grant and prints one
;; `RESULT <key> <value>` line per attempt: `ok`, or the errno the kernel (or the runtime)
;; answered. The rig builds it twice, sandboxed with `--ro-dir /modules` and with
;; `--wali-unrestricted`, and runs both through run.sh (which prefixes the keys).
(module
  (import "wali" "SYS_openat" (func $openat (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_socket" (func $socket (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_write" (func $write (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_close" (func $close (param i32) (result i64)))
  (import "wali" "SYS_unlinkat" (func $unlinkat (param i32 i32 i32) (result i64)))
  (import "wali" "__proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)

  ;; Paths: a file under the read-only grant, one outside every grant, a new file under the
  ;; read-only grant.
  (data (i32.const 0x100) "/modules/order\00")
  (data (i32.const 0x120) "/init\00")
  (data (i32.const 0x140) "/modules/created-by-wali\00")
  ;; Keys, each at its own offset, lengths passed with them.
  (data (i32.const 0x200) "open.granted")
  (data (i32.const 0x220) "open.outside")
  (data (i32.const 0x240) "create.read-only")
  (data (i32.const 0x260) "socket.inet")
  (data (i32.const 0x300) "RESULT ")
  (data (i32.const 0x310) "ok")

  ;; Appends `len` bytes at `src` to the line being built at 0x800; returns the new end.
  (func $put (param $end i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $end) (local.get $src) (local.get $len))
    (i32.add (local.get $end) (local.get $len)))

  ;; Prints `RESULT <key> <ok|errno>` for a syscall result (closing a descriptor it opened).
  (func $report (param $key i32) (param $len i32) (param $r i64)
    (local $end i32) (local $errno i32) (local $digits i32) (local $i i32)
    (local.set $end (call $put (i32.const 0x800) (i32.const 0x300) (i32.const 7)))
    (local.set $end (call $put (local.get $end) (local.get $key) (local.get $len)))
    (i32.store8 (local.get $end) (i32.const 32))
    (local.set $end (i32.add (local.get $end) (i32.const 1)))
    (if (i64.ge_s (local.get $r) (i64.const 0))
      (then
        (local.set $end (call $put (local.get $end) (i32.const 0x310) (i32.const 2))))
      (else
        ;; Decimal errno, written backwards into 0x700.. then copied in order.
        (local.set $errno (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $r))))
        (local.set $i (i32.const 0x710))
        (loop $digit
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (i32.store8 (local.get $i)
            (i32.add (i32.const 48) (i32.rem_u (local.get $errno) (i32.const 10))))
          (local.set $errno (i32.div_u (local.get $errno) (i32.const 10)))
          (br_if $digit (local.get $errno)))
        (local.set $end (call $put (local.get $end) (local.get $i)
                                   (i32.sub (i32.const 0x710) (local.get $i))))))
    (i32.store8 (local.get $end) (i32.const 10))
    (local.set $end (i32.add (local.get $end) (i32.const 1)))
    (drop (call $write (i32.const 1) (i32.const 0x800)
                       (i32.sub (local.get $end) (i32.const 0x800))))
    (if (i64.ge_s (local.get $r) (i64.const 0))
      (then (drop (call $close (i32.wrap_i64 (local.get $r)))))))

  (func (export "_start")
    ;; openat(AT_FDCWD, path, O_RDONLY)
    (call $report (i32.const 0x200) (i32.const 12)
      (call $openat (i32.const -100) (i32.const 0x100) (i32.const 0) (i32.const 0)))
    (call $report (i32.const 0x220) (i32.const 12)
      (call $openat (i32.const -100) (i32.const 0x120) (i32.const 0) (i32.const 0)))
    ;; openat(AT_FDCWD, path, O_WRONLY | O_CREAT, 0644), removed again if it was made.
    (call $report (i32.const 0x240) (i32.const 16)
      (call $openat (i32.const -100) (i32.const 0x140) (i32.const 0x41) (i32.const 420)))
    (drop (call $unlinkat (i32.const -100) (i32.const 0x140) (i32.const 0)))
    ;; socket(AF_INET, SOCK_STREAM, 0)
    (call $report (i32.const 0x260) (i32.const 11)
      (call $socket (i32.const 2) (i32.const 1) (i32.const 0)))
    (call $exit (i32.const 0))))
