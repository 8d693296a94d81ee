/*
 * native-run: runs one native WALI unit test for tests/wali.rs and records how it ended.
 *
 *     native-run LOG NAME COMMAND [ARGS...]
 *
 * The upstream runner (run_tests.py) prints a native exit status only when it differs from
 * the engine's, but the harness also counts the runs whose native baseline passed. The
 * harness installs a one-line shell script as each native test binary (bin/unit/elf/NAME) that
 * execs this program with the real binary (under qemu-user for another architecture). It
 * appends "start NAME" to LOG, runs COMMAND as its child, appends "end NAME exit N" or
 * "end NAME signal N", and then ends the same way the child did (same status, or killed by the
 * same signal), so the runner sees what it would have seen without it.
 *
 * Signals sent to the whole process group (a test may kill(0, ...)) are caught and dropped
 * here, so they reach the test as they would without this process in between; the test itself
 * starts with default dispositions (handlers are reset by exec). If this process is killed
 * (the runner's timeout), the test is killed with it (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void record(const char *log, const char *line) {
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    /* One write per line: lines of concurrent writers never interleave. */
    ssize_t n = write(fd, line, strlen(line));
    (void)n;
    close(fd);
}

static void drop_signal(int sig) { (void)sig; }

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s LOG NAME COMMAND [ARGS...]\n", argv[0]);
        return 125;
    }
    const char *log = argv[1], *name = argv[2];
    char line[512];
    snprintf(line, sizeof line, "start %s\n", name);
    record(log, line);

    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        perror("native-run: fork");
        return 125;
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(125);
        execvp(argv[3], &argv[3]);
        perror("native-run: exec");
        _exit(127);
    }

    struct sigaction drop;
    memset(&drop, 0, sizeof drop);
    drop.sa_handler = drop_signal;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &drop, NULL);
    }

    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("native-run: waitpid");
            return 125;
        }
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(line, sizeof line, "end %s signal %d\n", name, sig);
        record(log, line);
        /* Die of the same signal, without a core file of this program. */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        return 128 + sig;
    }
    int code = WEXITSTATUS(status);
    snprintf(line, sizeof line, "end %s exit %d\n", name, code);
    record(log, line);
    return code;
}
