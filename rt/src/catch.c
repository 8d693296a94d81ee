/*
 * Trap catching for the wafer runtime.
 *
 * `wafer_catch_traps` runs a body with a fresh jump buffer installed as the thread's current
 * one; `wafer_raise_trap` (called by libcalls, and by the signal handler for faults in wasm
 * code) jumps back to it. `sigsetjmp(buf, 1)` saves the signal mask, so jumping out of a signal
 * handler unblocks the signal again. Buffers nest: an inner catch restores the outer buffer
 * whether its body returns or traps.
 */
#include <setjmp.h>
#include <stdlib.h>
#include <unistd.h>

static __thread sigjmp_buf *wafer_current_buf;

int wafer_catch_traps(void (*body)(void *), void *data) {
    sigjmp_buf buf;
    sigjmp_buf *volatile previous = wafer_current_buf;
    int kind = sigsetjmp(buf, 1);
    if (kind == 0) {
        wafer_current_buf = &buf;
        body(data);
        wafer_current_buf = previous;
        return 0;
    }
    wafer_current_buf = previous;
    return kind;
}

int wafer_trap_catch_active(void) {
    return wafer_current_buf != NULL;
}

void wafer_raise_trap(int kind) {
    sigjmp_buf *buf = wafer_current_buf;
    if (buf == NULL) {
        static const char msg[] = "wafer: trap raised outside of any trap handler\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    if (kind == 0) {
        /* 0 means "no trap" to sigsetjmp's caller; never let a trap look like success. */
        kind = 255;
    }
    siglongjmp(*buf, kind);
}
