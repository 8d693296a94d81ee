#!/bin/sh
# Runs a build of sandbox.wat inside the rig's guest: `run.sh NAME EXECUTABLE`. Prefixes the
# program's result keys with NAME and adds what the runtime reports of the kernel sandbox it
# entered (WAFER_TRACE=sandbox: the Landlock ABI, whether the seccomp filter is on, and the
# answer to a host syscall no filter allows). Exits with the program's status.
name=$1
exe=$2
WAFER_TRACE=sandbox "$exe" >/wali.out 2>/wali.err
status=$?
sed "s/^RESULT /RESULT $name./" /wali.out
cat /wali.err
trace=$(grep '^wafer: sandbox: ' /wali.err)
if [ -n "$trace" ]; then
    echo "RESULT $name.landlock-abi $(echo "$trace" | sed 's/.*Landlock ABI \([0-9]*\),.*/\1/')"
    echo "RESULT $name.seccomp $(echo "$trace" | sed 's/.*; seccomp \([a-z]*\):.*/\1/')"
    echo "RESULT $name.self-test.getcpu $(echo "$trace" | sed 's/.*getcpu = \(-*[0-9]*\)$/\1/')"
fi
exit $status
