#!/bin/busybox sh
# PID 1 of a guest booted by tests/kernel.rs: runs pause on that arch's own kernel and prints what
# happened, one `@@` line per fact, for the test to judge (this script judges nothing).
#   @@ run NAME code=EXIT out=HEX err=HEX   a pause run: its exit status (128+N: signal N) and output bytes
#   @@ count NAME N                          a number the test checks (children, zombies, context switches)
#   @@ fact NAME VALUE                       the kernel's release and page size
#   @@ error TEXT                            the script could not do what it needed
#   @@ done                                  the end; then the machine powers off
/bin/busybox mkdir -p /bin /proc /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
ip link set lo up

# From the kernel's command line (tests/support/guest.rs): children pause inherits across exec,
# orphans it adopts as PID 1 of a PID namespace.
[ -n "$CHILDREN" ] && [ -n "$ORPHANS" ] || { echo "@@ error CHILDREN and ORPHANS are not set"; poweroff -f; }

hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
report() { echo "@@ run $1 code=$2 out=$(hex /tmp/out) err=$(hex /tmp/err)"; }
field() { sed -n "s/^$2:\t*//p" "/proc/$1/status" 2>/dev/null; }
# PIDs of the children of $1 (in state $2 if given), from every /proc/N/stat ("pid (comm) state ppid ...").
children() { cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" -v s="$2" '$4 == p && (s == "" || $3 == s) {print $1}'; }
count() { children "$@" | wc -l; }
# Until $1 is pause, asleep with SIGINT and SIGTERM caught and SIGCHLD ignored (its last step: the
# sleep); false at once if it ended, or after 20 s. (The run's report then shows how it ended.)
asleep() {
  i=0
  while [ $i -lt 2000 ]; do
    state=$(field $1 State | cut -c1)
    case $state in ""|Z) return 1 ;; esac
    if [ "$(cat /proc/$1/comm 2>/dev/null)" = pause ] && [ "$state" = S ]; then
      caught=$(field $1 SigCgt) ignored=$(field $1 SigIgn)
      [ $((0x$caught & 0x4002)) = $((0x4002)) ] && [ $((0x$ignored & 0x10000)) != 0 ] && return 0
    fi
    usleep 10000
    i=$((i + 1))
  done
  return 1
}
# Until $1 has no children left; 20 s at most.
childless() {
  i=0
  while [ "$(count $1)" != 0 ] && [ $i -lt 2000 ]; do usleep 10000; i=$((i + 1)); done
}

echo "@@ fact release $(uname -r)"

# -v in its forms: the version on stdout, exit 0.
n=0
for args in "-v" "-V" "x -v" "--foo -V bar"; do
  n=$((n + 1))
  timeout -s KILL 20 /pause $args >/tmp/out 2>/tmp/err  # one that never ends: killed (137)
  report "version-$n" $?
done

# Starts pause with the arguments after $2, waits until it sleeps, sends SIG$1, reports it as $2.
stopped() {
  sig=$1 name=$2
  shift 2
  /pause "$@" >/tmp/out 2>/tmp/err &
  p=$!
  if asleep $p; then
    [ $name = sigTERM ] && echo "@@ fact page-size $(($(awk '/^KernelPageSize:/ {print $2; exit}' /proc/$p/smaps) * 1024))"
    kill -$sig $p
  else
    kill -KILL $p
  fi
  wait $p
  report $name $?
}

# Not PID 1: the warning; then SIGTERM, SIGINT (a line each, exit 0) and SIGKILL (it ran until killed).
stopped TERM sigTERM
stopped INT sigINT
stopped KILL sigKILL
# Only an argument that is exactly -v (any case) counts: with these pause runs.
stopped TERM others -vv v --v - -x ""

# Zombies inherited across exec: busybox nc leaves SIGCHLD alone while it waits for a connection
# (ash would reap them itself right up to its exec), then execs pause in its own process.
sh -c "i=0; while [ \$i -lt $CHILDREN ]; do sleep 1000 & i=\$((i + 1)); done; exec nc -l -p 7000 -e /pause" >/tmp/out 2>/tmp/err &
p=$!
i=0
while [ "$(count $p S)" != $CHILDREN ] && [ $i -lt 2000 ]; do usleep 10000; i=$((i + 1)); done
kill $(children $p)
i=0
while [ "$(count $p Z)" != $CHILDREN ] && [ $i -lt 2000 ]; do usleep 10000; i=$((i + 1)); done
echo "@@ count inherited-zombies $(count $p Z)"
nc 127.0.0.1 7000 </dev/null >/dev/null &
client=$!
if asleep $p; then
  echo "@@ count zombies-once-asleep $(count $p)"
  kill -TERM $p
else
  kill -KILL $p
fi
wait $p
report inherited $?
kill $client 2>/dev/null

# Children that die while pause sleeps: released by the kernel, pause not woken.
sh -c "i=0; while [ \$i -lt $CHILDREN ]; do sleep 1000 & i=\$((i + 1)); done; exec /pause" >/tmp/out 2>/tmp/err &
p=$!
if asleep $p; then
  echo "@@ count children $(count $p)"
  before=$(field $p voluntary_ctxt_switches)
  kill $(children $p)
  childless $p
  echo "@@ count children-left $(count $p)"
  echo "@@ count wake-ups-for-children $(($(field $p voluntary_ctxt_switches) - before))"
  kill -TERM $p
else
  kill -KILL $p
fi
wait $p
report children $?

# PID 1 of a new PID namespace: orphans made inside it are adopted, then die; SIGTERM from outside.
unshare -p -f /pause >/tmp/out 2>/tmp/err &
u=$!
i=0
while [ -z "$(children $u)" ] && [ $i -lt 2000 ]; do usleep 10000; i=$((i + 1)); done
p=$(children $u)
if [ -n "$p" ] && asleep $p; then
  before=$(field $p voluntary_ctxt_switches)
  echo "@@ count pid-in-namespace $(field $p NSpid | awk '{print $NF}')"
  nsenter -t $p -p sh -c "i=0; while [ \$i -lt $ORPHANS ]; do sleep 1000 & i=\$((i + 1)); done"
  echo "@@ count orphans-adopted $(count $p)"
  kill $(children $p)
  childless $p
  echo "@@ count orphans-left $(count $p)"
  echo "@@ count wake-ups-for-orphans $(($(field $p voluntary_ctxt_switches) - before))"
  kill -TERM $p
else
  kill -KILL $u $p
fi
wait $u
report pid1 $?

echo "@@ done"
poweroff -f
