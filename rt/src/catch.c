/*
 * Trap catching for the wafer runtime.
 *
 * `wafer_catch_traps` runs a body with a fresh jump buffer installed as the thread's current
 * one; `wafer_raise_trap` (called by libcalls) and `wafer_raise_trap_from_signal` (called by
 * the signal handler for faults in wasm code) jump back to it. Buffers nest: an inner catch
 * restores the outer buffer whether its body returns or traps.
 *
 * The signal mask is not saved (`sigsetjmp(buf, 0)`): saving it costs a system call on every
 * entry into wasm, and every host function that hands a list back to a guest enters wasm (its
 * cabi_realloc). Only a jump out of a signal handler needs the mask mended, because the kernel
 * blocks the handled signal until the handler returns; that path unblocks it itself.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static __thread sigjmp_buf *wafer_current_buf;

int wafer_catch_traps(void (*body)(void *), void *data) {
    sigjmp_buf buf;
    sigjmp_buf *volatile previous = wafer_current_buf;
    int kind = sigsetjmp(buf, 0);
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

/* For the signal handler: the handled signal is blocked while the handler runs, and the jump
 * never returns to the kernel to unblock it, so unblock it here first. */
void wafer_raise_trap_from_signal(int kind, int signo) {
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, signo);
    pthread_sigmask(SIG_UNBLOCK, &handled, NULL);
    wafer_raise_trap(kind);
}
