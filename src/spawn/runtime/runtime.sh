#!/usr/bin/env bash
# spawn's on-node runtime: runs one Slurm batch task as slurmd/slurmstepd would, on this machine or on a stock
# cloud instance. Needs bash (4.2 or later) and coreutils only. Embedded in the spawn binary
# (src/spawn/runtime/runtime.sh) and copied into every task directory, so a task keeps the runtime it started with.
#
#   runtime.sh run DIR        run the task described by the task directory DIR; writes DIR/marker at the end
#   runtime.sh srun ARGS...   the `srun` shim (DIR/bin/srun): runs a job step's tasks on the job's (emulated) nodes
#   runtime.sh module ARGS... prints the shell code the `module`/`ml` function evaluates (mapped modules)
#   runtime.sh exec ROOT CWD ENV... -- COMMAND...   an srun task sent here from another node over ssh (rt_remote)
#   runtime.sh signal SIG     on such a node: signal every srun task sent here (rt_signal_remote)
#   runtime.sh container-check RUNTIME IMAGE   prints the container tool that would run IMAGE here, or why none can
#
# The task directory, written by the C++ side (runtime/task_dir.cpp):
#   settings      shell assignments (SPAWN_RT_*): paths of the standard streams, open mode, time limit, signal,
#                 kill wait, node names, tasks per node, job label
#   job.env       the batch script's environment, NUL-separated NAME=VALUE entries (exactly what it sees)
#   args          the script's arguments, NUL-separated
#   slurm_script  the batch script, verbatim (run with its own shebang)
#   modules       mapped modules, one per line: NAME<TAB>PROVIDER<TAB>VALUE
#   hostfile      one line per node, "NAME slots=N" (Open MPI)
#   bin/srun      calls this file in srun mode
# Written here:
#   runtime.log   this runtime's own messages;  batch.pid  the batch script's pid (its process group)
#   steps/PGID    one file per running srun task (its process group);  step-ids/N  step numbers handed out
#   remote/PGID   for an srun task on another node (over ssh), that node's name
# Written on the other nodes of a multi-node job ($SPAWN_NODE_DIR, set by spawn's sshd there):
#   remote-tasks/PID  one file per srun task sent there (its session, signalled by `runtime.sh signal SIG`)
#   cancel        asks for cancellation (written by the provider before it signals);  timeout  the limit was hit
#   container     "TOOL NAME" of the task's docker/podman container while it may exist (image in settings)
#   marker        the exit status, written once and atomically (marker.tmp, then renamed):
#                 state=COMPLETED|FAILED|TIMEOUT|CANCELLED exit_code=N signal=N reason=TEXT start=EPOCH end=EPOCH

rt_die() {
  printf 'spawn-runtime: error: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------------- run

# Sends signal $1 to the batch script's process group and to every srun task's group.
rt_signal_job() {
  local sig=$1 f
  [[ -n ${rt_batch:-} ]] && kill "-$sig" -- "-$rt_batch" 2>/dev/null
  [[ -n ${rt_cname:-} ]] && rt_container_signal "$sig"
  rt_signal_steps "$sig"
}

# An srun task on another node is signalled there (its node's runtime, over the job's ssh), as slurmd signals a
# task on its own node; the ssh that carries it here only gets the final SIGKILL, so the task's own exit status
# still comes back through it.
rt_signal_steps() {
  local sig=$1 f node
  local -A nodes=()
  for f in "$rt_dir"/steps/*; do
    [[ -e $f ]] || continue
    if [[ -e $rt_dir/remote/${f##*/} ]]; then
      read -r node <"$rt_dir/remote/${f##*/}" && nodes[$node]=1
      [[ $sig == KILL ]] || continue
    fi
    kill "-$sig" -- "-${f##*/}" 2>/dev/null
  done
  [[ $sig == CONT ]] && return 0
  for node in "${!nodes[@]}"; do
    "$SPAWN_RT_SSH" "$node" "exec bash \"\$SPAWN_NODE_DIR/runtime.sh\" signal $sig" </dev/null >/dev/null 2>&1 &
  done
}

# slurmstepd's messages on the job's stderr when it ends a job: one per running step, then the job's.
rt_stepd_message() {
  local now f step seen=" "
  now=$(date +%Y-%m-%dT%H:%M:%S)
  for f in "$rt_dir"/steps/*; do
    [[ -s $f ]] || continue
    step=$(<"$f")
    [[ $seen == *" $step "* ]] && continue
    seen+="$step "
    printf 'slurmstepd-%s: error: *** STEP %s.%s ON %s CANCELLED AT %s%s ***\n' "$SPAWN_RT_NODE" \
      "$SPAWN_RT_JOB_LABEL" "$step" "$SPAWN_RT_NODE" "$now" "$1" >&4 2>/dev/null
  done
  printf 'slurmstepd-%s: error: *** JOB %s ON %s CANCELLED AT %s%s ***\n' "$SPAWN_RT_NODE" "$SPAWN_RT_JOB_LABEL" \
    "$SPAWN_RT_NODE" "$now" "$1" >&4 2>/dev/null
}

# Ends the job as Slurm does: SIGCONT and SIGTERM to every process, SIGKILL after the kill wait.
rt_terminate() {
  rt_signal_job CONT
  rt_signal_job TERM
  set -m
  (
    trap - TERM INT HUP USR1 USR2 ALRM
    sleep "$SPAWN_RT_KILL_WAIT"
    rt_signal_job KILL
  ) &
  rt_killer=$!
  set +m
}

rt_on_warn() {
  [[ -n $rt_ending ]] && return
  if [[ $SPAWN_RT_SIGNAL_BATCH == 1 ]]; then
    kill "-$SPAWN_RT_SIGNAL" "$rt_batch" 2>/dev/null
  else
    # Without B:, Slurm signals the job steps only, never the batch shell.
    rt_signal_steps "$SPAWN_RT_SIGNAL"
  fi
  # No command substitution in a trap handler: bash 5.2 can fail to parse one there ("unexpected EOF").
  local whom="the job steps"
  [[ $SPAWN_RT_SIGNAL_BATCH == 1 ]] && whom="the batch shell"
  printf '%(%FT%T)T sent signal %s to %s\n' -1 "$SPAWN_RT_SIGNAL" "$whom"
}

rt_on_limit() {
  [[ -n $rt_ending ]] && return
  rt_ending=timeout
  : >"$rt_dir/timeout"
  rt_stepd_message " DUE TO TIME LIMIT"
  echo "$(date +%FT%T) time limit of ${SPAWN_RT_TIME_LIMIT} s reached"
  rt_terminate
}

rt_on_cancel() {
  [[ -n $rt_ending ]] && return
  rt_ending=cancelled
  : >"$rt_dir/cancel"
  echo "$(date +%FT%T) cancelled"
  # Before the batch script exists there is nothing to stop; rt_run checks rt_ending right after starting it.
  [[ -z ${rt_batch:-} ]] && return
  rt_stepd_message ""
  rt_terminate
}

rt_write_marker() { # state exit_code signal reason
  local tmp="$rt_dir/marker.tmp.$$"
  printf 'state=%s\nexit_code=%s\nsignal=%s\nreason=%s\nstart=%s\nend=%s\n' "$1" "$2" "$3" "$4" "$rt_start" \
    "$(date +%s)" >"$tmp" && mv -f "$tmp" "$rt_dir/marker"
}

rt_finish() { # state exit_code signal reason
  rt_write_marker "$@"
  echo "$(date +%FT%T) $1 ($4)"
  exit "$2"
}

# The start claim (engine/claim.hpp): when the provider asked for it (file uses-claim), the task's first act is to
# create the file claim exclusively, holding its handle "PID:STARTTIME" (as the provider formats it). A recovering
# engine that created it first ("abandoned") has given this attempt up: then nothing runs, nothing is written.
rt_claim_start() {
  [[ -e $rt_dir/uses-claim ]] || return 0
  local stat rest start
  local -a fields
  stat=$(<"/proc/$$/stat")
  rest=${stat##*) }           # the fields after the command name (which may hold spaces and parentheses)
  read -r -a fields <<<"$rest" # fields[0] is field 3 (state): the start time, field 22, is fields[19]
  start=${fields[19]}
  if ! (set -C && printf '%s:%s\n' "$$" "$start" >"$rt_dir/claim") 2>/dev/null; then
    echo "$(date +%FT%T) runtime $$: the attempt was abandoned by a recovering spawn before it started; not running"
    exit 0
  fi
}

rt_run() {
  rt_dir=$1
  rt_ending=""
  rt_batch=""
  rt_start=$(date +%s)
  trap rt_on_cancel TERM INT HUP
  trap rt_on_warn USR1
  trap rt_on_limit ALRM
  [[ -d $rt_dir && -f $rt_dir/settings ]] || rt_die "no task directory at '$rt_dir'"
  cd "$rt_dir" || rt_die "cannot enter '$rt_dir'"
  rt_claim_start
  # shellcheck source=/dev/null
  . "$rt_dir/settings" || rt_die "cannot read $rt_dir/settings"
  mkdir -p "$rt_dir/steps" "$rt_dir/step-ids"
  echo "$(date +%FT%T) runtime $$ starting task $SPAWN_RT_JOB_LABEL"
  [[ -e $rt_dir/cancel ]] && rt_finish CANCELLED 0 0 "cancelled before it started"

  local -a envs=() args=()
  local kv path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  if [[ ${SPAWN_RT_LOGIN_ENV:-0} == 1 ]]; then
    # With --export, slurmd starts from the user's login environment (what `su - USER` gives); the job's own
    # variables override it. env -i keeps the last of duplicate names.
    local user home shell
    user=$(id -un)
    IFS=: read -r _ _ _ _ _ home shell < <(getent passwd "$user" 2>/dev/null)
    while IFS= read -r -d '' kv; do
      [[ $kv == PATH=* ]] && path=${kv#PATH=}
      envs+=("$kv")
    done < <(cd "${home:-/}" 2>/dev/null || cd /; env -i HOME="${home:-/}" USER="$user" LOGNAME="$user" \
      SHELL="${shell:-/bin/bash}" PATH="$path" timeout 20 bash -l -c 'env -0' 2>/dev/null </dev/null)
  fi
  while IFS= read -r -d '' kv; do
    [[ $kv == PATH=* ]] && path=${kv#PATH=}
    envs+=("$kv")
  done <"$rt_dir/job.env"
  envs+=("PATH=$rt_dir/bin:$path")
  # `module` and `ml` as exported bash functions, as Lmod and Environment Modules provide them on a cluster.
  local self
  self=$(printf '%q' "$rt_dir/runtime.sh")
  envs+=("BASH_FUNC_module%%=() {  eval \"\$(bash $self module \"\$@\")\"
}")
  envs+=("BASH_FUNC_ml%%=() {  eval \"\$(bash $self ml \"\$@\")\"
}")
  while IFS= read -r -d '' kv; do args+=("$kv"); done <"$rt_dir/args"

  # The standard streams, opened as slurmstepd opens them: truncate unless --open-mode=append.
  local out=$SPAWN_RT_STDOUT err=$SPAWN_RT_STDERR in=${SPAWN_RT_STDIN:-/dev/null}
  if [[ $SPAWN_RT_OPEN_MODE == append ]]; then
    { exec 3>>"$out"; } 2>/dev/null || rt_finish FAILED 1 0 "cannot open the output file $out"
  else
    { exec 3>"$out"; } 2>/dev/null || rt_finish FAILED 1 0 "cannot open the output file $out"
  fi
  if [[ -z $err || $err == "$out" ]]; then
    exec 4>&3
  elif [[ $SPAWN_RT_OPEN_MODE == append ]]; then
    { exec 4>>"$err"; } 2>/dev/null || rt_finish FAILED 1 0 "cannot open the error file $err"
  else
    { exec 4>"$err"; } 2>/dev/null || rt_finish FAILED 1 0 "cannot open the error file $err"
  fi
  { exec 5<"$in"; } 2>/dev/null || rt_finish FAILED 1 0 "cannot open the input file $in"
  [[ -n ${SPAWN_RT_CONTAINER:-} ]] && rt_container_prepare

  # The batch script in its own process group (set -m), so signals can tell it from the srun tasks.
  set -m
  (
    trap - TERM INT HUP USR1 USR2 ALRM
    if ! cd -- "$SPAWN_RT_WORK_DIR" 2>/dev/null; then
      printf "slurmstepd-%s: error: couldn't chdir to \`%s': No such file or directory: going to /tmp instead\n" \
        "$SPAWN_RT_NODE" "$SPAWN_RT_WORK_DIR" >&4
      cd /tmp || exit 1
    fi
    [[ -n ${SPAWN_RT_CONTAINER:-} ]] && rt_container_exec "${args[@]}" <&5 >&3 2>&4 3>&- 4>&- 5>&-
    exec env -i "${envs[@]}" "SLURM_TASK_PID=$BASHPID" "$rt_dir/slurm_script" "${args[@]}" <&5 >&3 2>&4 3>&- 4>&- 5>&-
  ) &
  rt_batch=$!
  set +m
  exec 5<&-
  echo "$rt_batch" >"$rt_dir/batch.pid"
  if [[ $rt_ending == cancelled || -e $rt_dir/cancel ]]; then
    rt_ending=""
    rt_on_cancel
  fi

  # The time limit counts from the task's start: the --signal signal its seconds before, SIGTERM at the limit.
  local timer=""
  if ((SPAWN_RT_TIME_LIMIT > 0)); then
    set -m
    (
      trap - TERM INT HUP USR1 USR2 ALRM
      local warn_at=-1
      if [[ -n $SPAWN_RT_SIGNAL ]]; then
        warn_at=$((SPAWN_RT_TIME_LIMIT - SPAWN_RT_SIGNAL_BEFORE))
        ((warn_at < 0)) && warn_at=0
      fi
      if ((warn_at >= 0)); then
        sleep "$warn_at"
        kill -USR1 $$
        sleep $((SPAWN_RT_TIME_LIMIT - warn_at))
      else
        sleep "$SPAWN_RT_TIME_LIMIT"
      fi
      kill -ALRM $$
    ) &
    timer=$!
    set +m
  fi

  # Wait for the batch script; a trapped signal interrupts `wait`, so wait again until it has really ended.
  local rc=0 again
  while :; do
    wait "$rt_batch"
    rc=$?
    kill -0 "$rt_batch" 2>/dev/null && continue
    # If that wait was cut short by a trap (rc 128+N), bash still holds the script's status: ask once more.
    # (Older bash answers 127 for a status already returned; bash 5 may answer -1 when it lost the status.)
    wait "$rt_batch" 2>/dev/null
    again=$?
    ((again >= 0 && again != 127)) && rc=$again
    break
  done
  # Ending at a limit or a cancel, steps already have their SIGTERM: let them finish (and srun report them) within
  # the kill wait. Then, as Slurm does when the batch script ends, every process left is killed.
  if [[ -n $rt_ending ]]; then
    local tenths=0
    while compgen -G "$rt_dir/steps/*" >/dev/null && ((tenths < SPAWN_RT_KILL_WAIT * 10)); do
      sleep 0.1
      tenths=$((tenths + 1))
    done
    sleep 0.1
  fi
  rt_signal_job KILL
  [[ -n ${rt_cname:-} ]] && rt_container_remove
  rm -f "$rt_dir"/steps/*
  [[ -n $timer ]] && kill -KILL -- "-$timer" 2>/dev/null
  [[ -n ${rt_killer:-} ]] && kill -KILL -- "-$rt_killer" 2>/dev/null
  exec 3>&- 4>&-

  local sig=0 code=$rc reason
  if ((rc > 128 && rc <= 128 + 64)); then
    sig=$((rc - 128))
    reason="killed by signal $sig"
  else
    reason="exit $rc"
  fi
  [[ -e $rt_dir/cancel && -z $rt_ending ]] && rt_ending=cancelled
  case $rt_ending in
  cancelled) rt_finish CANCELLED "$code" "$sig" "cancelled ($reason)" ;;
  timeout) rt_finish TIMEOUT "$code" "$sig" "time limit of $SPAWN_RT_TIME_LIMIT s reached ($reason)" ;;
  esac
  if ((rc == 0)); then
    rt_finish COMPLETED 0 0 "$reason"
  fi
  rt_finish FAILED "$code" "$sig" "$reason"
}

# ---------------------------------------------------------------------------------------------------- container

# With an image (SPAWN_RT_CONTAINER) the batch script runs inside it: docker/podman `run` or apptainer `exec`, the
# task directory and the working directory bind-mounted at the same paths, the job's environment, its GPUs, the
# host's network and PID namespace (so srun's step files hold pids the runtime can signal, as without a container).

# Prints "KIND PATH" of the tool that runs images here (KIND: docker, podman or apptainer); SPAWN_RT_CONTAINER_RUNTIME
# (or $1) names it, auto takes docker when its daemon answers, else podman, else apptainer or singularity. When none
# can, prints why on stderr and returns 1.
rt_container_tool() {
  local want=${1:-${SPAWN_RT_CONTAINER_RUNTIME:-auto}} kind path out why=""
  local -a kinds
  case $want in
  auto) kinds=(docker podman apptainer singularity) ;;
  apptainer) kinds=(apptainer singularity) ;;
  docker | podman) kinds=("$want") ;;
  *) echo "unknown container runtime '$want' (expected docker, podman, apptainer or auto)" >&2; return 1 ;;
  esac
  for kind in "${kinds[@]}"; do
    if ! path=$(command -v "$kind"); then
      why+="${why:+; }$kind is not installed"
      continue
    fi
    case $kind in
    docker) out=$(timeout 30 "$path" version --format '{{.Server.Version}}' 2>&1) ;;
    podman) out=$(timeout 30 "$path" info --format '{{.Host.Arch}}' 2>&1) ;;
    *) out=$(timeout 30 "$path" --version 2>&1) ;;
    esac
    if (($? == 0)); then
      [[ $kind == singularity ]] && kind=apptainer
      printf '%s %s\n' "$kind" "$path"
      return 0
    fi
    out=$(printf '%s\n' "$out" | grep -v '^ *$' | tail -n 1)
    why+="${why:+; }$kind does not work here: ${out:-no answer}"
  done
  printf '%s\n' "$why" >&2
  return 1
}

rt_container_check() { # runtime image
  local tool
  tool=$(rt_container_tool "$1") || exit 1
  printf '%s\n' "$tool"
}

# Chooses the tool, makes sure the image is there (pulling it into runtime.log) and builds rt_ccmd, the command
# that runs the batch script in it; a failure ends the task FAILED with the reason on its stderr.
rt_container_prepare() {
  local image=$SPAWN_RT_CONTAINER tool why image_path="" kv name gpus="" work=$SPAWN_RT_WORK_DIR
  [[ -d $work ]] || work=/tmp # where the batch subshell goes when the directory is missing, as slurmstepd does
  if ! tool=$(rt_container_tool 2>"$rt_dir/container.why"); then
    why="container image $image: no container runtime can run it on $SPAWN_RT_NODE: $(<"$rt_dir/container.why")"
    printf 'spawn-runtime: error: %s\n' "$why" >&4
    rt_finish FAILED 1 0 "$why"
  fi
  rm -f "$rt_dir/container.why"
  rt_ckind=${tool%% *} rt_ctool=${tool#* }
  for kv in "${envs[@]}"; do [[ $kv == CUDA_VISIBLE_DEVICES=?* ]] && gpus=${kv#*=}; done
  echo "$(date +%FT%T) running the batch script in $image with $rt_ckind ($rt_ctool)"
  if [[ $rt_ckind == apptainer ]]; then
    # Apptainer keeps the caller's environment (the job's) and process group; it uses the image's own PATH.
    [[ $image == *://* || $image == /* || $image == ./* || $image == *.sif ]] || image=docker://$image
    rt_ccmd=("$rt_ctool" exec --bind "$rt_dir" --bind "$work" --pwd "$work")
    [[ -n $gpus ]] && rt_ccmd+=(--nv)
    rt_ccmd+=("$image")
    return
  fi
  if ! "$rt_ctool" image inspect "$image" >/dev/null 2>&1; then
    echo "$(date +%FT%T) pulling $image"
    if ! "$rt_ctool" pull "$image" 2>&1; then
      why="container image $image: $rt_ckind cannot pull it (see $rt_dir/runtime.log)"
      printf 'spawn-runtime: error: %s\n' "$why" >&4
      rt_finish FAILED 1 0 "$why"
    fi
  fi
  image_path=$("$rt_ctool" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" 2>/dev/null |
    sed -n 's/^PATH=//p')
  rt_cname="spawn-${SPAWN_RT_JOB_LABEL//[^A-Za-z0-9_.-]/_}-$(printf '%s' "$rt_dir" | cksum | cut -d' ' -f1)"
  "$rt_ctool" rm -f "$rt_cname" >/dev/null 2>&1 # a container of an earlier attempt of this task directory
  printf '%s %s\n' "$rt_ctool" "$rt_cname" >"$rt_dir/container"
  rt_ccmd=("$rt_ctool" run --rm --name "$rt_cname" --network host --pid host --sig-proxy=false --entrypoint "")
  rt_ccmd+=(-v "$rt_dir:$rt_dir" -w "$work")
  [[ $work == "$SPAWN_RT_WORK_DIR" ]] && rt_ccmd+=(-v "$work:$work")
  if [[ $rt_ckind == podman && $(id -u) != 0 ]]; then
    rt_ccmd+=(--userns keep-id) # rootless: the user stays the user inside, files come back owned by them
  else
    rt_ccmd+=(--user "$(id -u):$(id -g)")
  fi
  [[ ${SPAWN_RT_STDIN:-/dev/null} != /dev/null ]] && rt_ccmd+=(-i)
  if [[ -n $gpus ]]; then
    if [[ $rt_ckind == docker ]]; then
      rt_ccmd+=(--gpus "\"device=$gpus\"")
    else
      local IFS=,
      for kv in $gpus; do rt_ccmd+=(--device "nvidia.com/gpu=$kv"); done
      unset IFS
    fi
  fi
  for kv in "${envs[@]}"; do
    name=${kv%%=*}
    [[ $name == PATH ]] || rt_ccmd+=(-e "$name")
  done
  rt_ccmd+=(-e "PATH=$rt_dir/bin:${image_path:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}" "$image")
}

# In the batch subshell: replaces it with the container tool running the script (args: the script's arguments).
rt_container_exec() {
  local tool_path=$PATH
  # The tool reads each -e NAME's value from its own environment: the job's, over the runtime's (DOCKER_HOST...).
  exec env "${envs[@]}" "PATH=$tool_path" "APPTAINERENV_PREPEND_PATH=$rt_dir/bin" \
    "SINGULARITYENV_PREPEND_PATH=$rt_dir/bin" "${rt_ccmd[@]}" "$rt_dir/slurm_script" "$@"
}

# Sends signal $1 to every process of the task's container (its main process leads their process group).
rt_container_signal() {
  local pid
  pid=$("$rt_ctool" inspect --format '{{.State.Pid}}' "$rt_cname" 2>/dev/null) || return 0
  [[ $pid =~ ^[1-9][0-9]*$ ]] || return 0
  kill "-$1" -- "-$pid" 2>/dev/null || kill "-$1" "$pid" 2>/dev/null
}

# Removes the task's container if it is still there (the tool was killed before its --rm could act).
rt_container_remove() {
  "$rt_ctool" rm -f "$rt_cname" >/dev/null 2>&1
  rm -f "$rt_dir/container"
}

# ---------------------------------------------------------------------------------------------------- srun

# Expands the hostlist forms Slurm prints ("a,b", "p[0-3,7]", "p[00-03]") into one name per line.
rt_expand_hostlist() {
  local list=$1 item prefix body suffix range lo hi n
  while [[ -n $list ]]; do
    if [[ $list =~ ^([^,\[]*)\[([^]]*)\]([^,]*)(,|$) ]]; then
      prefix=${BASH_REMATCH[1]} body=${BASH_REMATCH[2]} suffix=${BASH_REMATCH[3]}
      list=${list:${#BASH_REMATCH[0]}}
      local IFS=,
      for range in $body; do
        lo=${range%%-*} hi=${range#*-}
        for ((n = 10#$lo; n <= 10#$hi; n++)); do
          printf '%s%0*d%s\n' "$prefix" "${#lo}" "$n" "$suffix"
        done
      done
      unset IFS
    else
      item=${list%%,*}
      [[ $item == "$list" ]] && list="" || list=${list#*,}
      [[ -n $item ]] && printf '%s\n' "$item"
    fi
  done
}

# Compresses counts as Slurm prints them: 2 2 2 1 -> "2(x3),1".
rt_compress_counts() {
  local out="" prev="" run=0 c
  for c in "$@" ""; do
    if [[ $c == "$prev" ]]; then
      ((run++))
      continue
    fi
    if [[ -n $prev ]]; then
      out+="${out:+,}$prev"
      ((run > 1)) && out+="(x$run)"
    fi
    prev=$c run=1
  done
  printf '%s' "$out"
}

# Slurm's width rule (runtime/hostlist.cpp, width_equiv): whether numbers $1 (written with $2 digits) and $3 ($4
# digits) may share a range; sets rt_w to the range's width.
rt_width_equiv() {
  local n=$1 wn=$2 m=$3 wm=$4 npad nmpad mpad mnpad
  rt_w=$wn
  ((wn == wm)) && return 0
  npad=$((wn > ${#n} ? wn - ${#n} : 0)) nmpad=$((wm > ${#n} ? wm - ${#n} : 0))
  mpad=$((wm > ${#m} ? wm - ${#m} : 0)) mnpad=$((wn > ${#m} ? wn - ${#m} : 0))
  ((npad != nmpad && mpad != mnpad)) && return 1
  ((npad == nmpad)) && rt_w=$wm
  return 0
}

# Compresses node names as Slurm prints them, as runtime/hostlist.cpp does for the batch step: names in a row with
# one prefix share a bracket, consecutive numbers of equivalent widths form a range: "p0 p1 p3" -> "p[0-1,3]",
# "ip-10-0-0-9 ip-10-0-0-10 ip-10-0-1-7" -> "ip-10-0-0-[9-10],ip-10-0-1-7".
rt_compress_hostlist() {
  local out="" name prefix digits n nw
  rt_hl_prefix="" rt_hl_ranges="" rt_hl_members=0 rt_hl_single=""
  for name in "$@"; do
    if [[ $name =~ ^(.*[^0-9])?([0-9]{1,18})$ ]]; then
      prefix=${BASH_REMATCH[1]} digits=${BASH_REMATCH[2]}
      n=$((10#$digits)) nw=${#digits}
      if ((rt_hl_members > 0)) && [[ $prefix == "$rt_hl_prefix" ]]; then
        rt_hl_members=$((rt_hl_members + 1))
        if ((n == rt_hl_hi + 1)) && rt_width_equiv "$rt_hl_lo" "$rt_hl_w" "$n" "$nw"; then # the range's first decides
          rt_hl_hi=$n rt_hl_w=$rt_w
        else
          rt_hl_range
          rt_hl_lo=$n rt_hl_hi=$n rt_hl_w=$nw
        fi
        continue
      fi
      out+=$(rt_hl_group "${out:+,}")
      rt_hl_prefix=$prefix rt_hl_lo=$n rt_hl_hi=$n rt_hl_w=$nw rt_hl_members=1 rt_hl_single=$name rt_hl_ranges=""
    else
      out+=$(rt_hl_group "${out:+,}")
      rt_hl_members=0
      out+="${out:+,}$name"
    fi
  done
  out+=$(rt_hl_group "${out:+,}")
  printf '%s' "$out"
}

rt_hl_range() {
  local r
  r=$(printf '%0*d' "$rt_hl_w" "$rt_hl_lo")
  ((rt_hl_hi != rt_hl_lo)) && r+=-$(printf '%0*d' "$rt_hl_w" "$rt_hl_hi")
  rt_hl_ranges+="${rt_hl_ranges:+,}$r"
}

# Prints the group of names collected so far ($1 before it), if any.
rt_hl_group() {
  ((rt_hl_members == 0)) && return
  if ((rt_hl_members == 1)); then
    printf '%s%s' "$1" "$rt_hl_single"
  else
    rt_hl_range
    printf '%s%s[%s]' "$1" "$rt_hl_prefix" "$rt_hl_ranges"
  fi
}

# srun's step output pattern for one task: %t task, %n node, %N node name, %j/%J job(.step), %s step, %%.
rt_step_pattern() { # pattern procid nodeid nodename step
  local p=$1 out="" c
  while [[ -n $p ]]; do
    c=${p:0:1} p=${p:1}
    if [[ $c != % || -z $p ]]; then out+=$c; continue; fi
    c=${p:0:1} p=${p:1}
    case $c in
    %) out+=% ;;
    t) out+=$2 ;;
    n) out+=$3 ;;
    N) out+=$4 ;;
    j) out+=$SLURM_JOB_ID ;;
    J) out+=$SLURM_JOB_ID.$5 ;;
    s) out+=$5 ;;
    u) out+=${SLURM_JOB_USER:-} ;;
    x) out+=${SLURM_JOB_NAME:-} ;;
    A) out+=${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID} ;;
    a) out+=${SLURM_ARRAY_TASK_ID:-4294967294} ;;
    *) out+=%$c ;;
    esac
  done
  printf '%s' "$out"
}

rt_srun() {
  local dir=${SPAWN_RUNTIME_DIR:-}
  [[ -n $dir && -f $dir/settings ]] || rt_die "srun: not inside a spawn task (SPAWN_RUNTIME_DIR is not set)"
  # shellcheck source=/dev/null
  . "$dir/settings"
  local ntasks=${SLURM_NTASKS:-} nnodes="" per_node=${SLURM_NTASKS_PER_NODE:-} cpus=${SLURM_CPUS_PER_TASK:-}
  local nodelist="" label=0 chdir="" output="" error="" input="" export_spec=""
  local opt val
  # Options that take a value (long form; "--opt=value" or "--opt value"), then the short ones.
  local with_value=" account acctg-freq bb bbf bcast begin cluster-constraint clusters comment compress constraint
    container contiguous core-spec cores-per-socket cpu-bind cpu-freq cpus-per-gpu cpus-per-task dependency
    distribution chdir error exclude epilog export gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket gpus-per-task
    gres gres-flags hint input job-name jobid kill-on-bad-exit licenses mail-type mail-user mcs-label mem mem-per-cpu
    mem-per-gpu mem-bind mincpus mpi network nice ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node
    ntasks-per-socket nodefile nodelist nodes open-mode output partition power prefer priority profile prolog
    propagate qos quit-on-interrupt reservation resv-ports signal slurmd-debug sockets-per-node switches
    task-epilog task-prolog tasks-per-node thread-spec threads-per-core time time-min tmp uid umask wait wckey
    het-group container-id tres-per-task "
  while (($#)); do
    opt=$1
    case $opt in
    --) shift; break ;;
    --*=*) val=${opt#*=} opt=${opt%%=*} ;;
    --*)
      if [[ $with_value == *" ${opt#--} "* && $opt != --kill-on-bad-exit && $opt != --quit-on-interrupt ]]; then
        val=${2-}
        shift
      else
        val=""
      fi
      ;;
    -[nNcwoeiDJtpACmdrGkLxFWZ]*)
      if ((${#opt} > 2)); then val=${opt:2}; else val=${2-}; shift; fi
      opt=${opt:0:2}
      ;;
    -*) val="" ;;
    *) break ;;
    esac
    shift
    case $opt in
    -n | --ntasks) ntasks=$val ;;
    -N | --nodes) nnodes=${val%%-*} ;;
    --ntasks-per-node) per_node=$val ;;
    -c | --cpus-per-task) cpus=$val ;;
    -w | --nodelist) nodelist=$val ;;
    -l | --label) label=1 ;;
    -D | --chdir) chdir=$val ;;
    -o | --output) output=$val ;;
    -e | --error) error=$val ;;
    -i | --input) input=$val ;;
    --export) export_spec=$val ;;
    *) ;; # accepted and ignored: the emulated nodes have no binding, memory or network to configure
    esac
  done
  (($#)) || rt_die "srun: no command given"

  local -a job_nodes=() nodes=()
  read -r -a job_nodes <<<"$SPAWN_RT_NODE_NAMES"
  if [[ -n $nodelist ]]; then
    while IFS= read -r opt; do nodes+=("$opt"); done < <(rt_expand_hostlist "$nodelist")
  else
    nodes=("${job_nodes[@]}")
  fi
  if [[ -n $nnodes ]] && ((nnodes < ${#nodes[@]})); then
    nodes=("${nodes[@]:0:nnodes}")
  elif [[ -z $nnodes && -z $nodelist && -n $ntasks ]] && ((ntasks < ${#nodes[@]})); then
    nodes=("${nodes[@]:0:ntasks}")
  fi
  local count=${#nodes[@]}
  if [[ -z $ntasks ]]; then
    if [[ -n $per_node ]]; then ntasks=$((per_node * count)); else ntasks=$count; fi
  fi
  # Block distribution (--ntasks-per-node caps each node); Slurm calls it cyclic when every node gets one task.
  local -a counts=()
  local i left=$ntasks
  for ((i = 0; i < count; i++)); do
    local c=$((ntasks / count + (i < ntasks % count ? 1 : 0)))
    [[ -n $per_node ]] && ((c > per_node)) && c=$per_node
    ((c > left)) && c=$left
    counts+=("$c")
    left=$((left - c))
  done
  ((left > 0)) && counts[count - 1]=$((counts[count - 1] + left))

  local step=0
  until mkdir "$dir/step-ids/$step" 2>/dev/null; do step=$((step + 1)); done
  local step_nodelist step_tasks distribution=block
  step_nodelist=$(rt_compress_hostlist "${nodes[@]}")
  step_tasks=$(rt_compress_counts "${counts[@]}")
  ((ntasks <= count)) && distribution=cyclic

  export SLURM_STEP_ID=$step SLURM_STEPID=$step SLURM_STEP_NODELIST=$step_nodelist SLURM_STEP_NUM_NODES=$count
  export SLURM_STEP_NUM_TASKS=$ntasks SLURM_STEP_TASKS_PER_NODE=$step_tasks SLURM_NTASKS=$ntasks SLURM_NPROCS=$ntasks
  export SLURM_NNODES=$count SLURM_NODELIST=$step_nodelist SLURM_TASKS_PER_NODE=$step_tasks
  export SLURM_DISTRIBUTION=$distribution SLURM_LAUNCH_NODE_IPADDR=127.0.0.1 SLURM_SRUN_COMM_HOST=127.0.0.1
  SLURM_UMASK=$(umask)
  export SLURM_UMASK SLURM_JOB_CPUS_PER_NODE_PACK_GROUP_0=${SLURM_JOB_CPUS_PER_NODE:-1}
  [[ -n $cpus ]] && export SLURM_CPUS_PER_TASK=$cpus
  [[ -n $chdir ]] && { cd -- "$chdir" || rt_die "srun: cannot change to directory '$chdir'"; }

  local -a pids=() task_nodes=()
  local node_id procid=0 local_id gtids
  for ((node_id = 0; node_id < count; node_id++)); do
    gtids=""
    for ((local_id = 0; local_id < counts[node_id]; local_id++)); do
      gtids+="${gtids:+,}$((procid + local_id))"
    done
    for ((local_id = 0; local_id < counts[node_id]; local_id++)); do
      set -m
      (
        export SLURM_PROCID=$procid SLURM_LOCALID=$local_id SLURM_NODEID=$node_id SLURM_GTIDS=$gtids
        export SLURMD_NODENAME=${nodes[node_id]} SLURM_TOPOLOGY_ADDR=${nodes[node_id]} SLURM_TASK_PID=$BASHPID
        [[ -n $input ]] && { exec <"$(rt_step_pattern "$input" $procid $node_id "${nodes[node_id]}" $step)" || exit 1; }
        [[ -n $output ]] && { exec >"$(rt_step_pattern "$output" $procid $node_id "${nodes[node_id]}" $step)" || exit 1; }
        [[ -n $error ]] && { exec 2>"$(rt_step_pattern "$error" $procid $node_id "${nodes[node_id]}" $step)" || exit 1; }
        # Real remote nodes (a multi-node job on EC2): the task runs there, over the job's ssh (rt_remote).
        if [[ -n ${SPAWN_RT_SSH:-} && ${nodes[node_id]} != "$SPAWN_RT_NODE" ]]; then
          rt_remote "${nodes[node_id]}" "$export_spec" "$@"
          set -- "$SPAWN_RT_SSH" "${nodes[node_id]}" "$rt_remote_command"
          export_spec=""
        fi
        if [[ $export_spec == NONE ]]; then
          local -a keep=()
          while IFS= read -r -d '' kv; do
            [[ $kv == SLURM_* || $kv == SLURMD_* || $kv == SPAWN_* || $kv == PATH=* ]] && keep+=("$kv")
          done < <(env -0)
          if ((label)); then
            env -i "${keep[@]}" "$@" 2>&1 | while IFS= read -r line; do printf '%d: %s\n' "$SLURM_PROCID" "$line"; done
            exit "${PIPESTATUS[0]}"
          fi
          exec env -i "${keep[@]}" "$@"
        fi
        if ((label)); then
          "$@" 2>&1 | while IFS= read -r line; do printf '%d: %s\n' "$SLURM_PROCID" "$line"; done
          exit "${PIPESTATUS[0]}"
        fi
        exec "$@"
      ) &
      pids+=($!)
      task_nodes+=("${nodes[node_id]}")
      set +m
      echo "$step" >"$dir/steps/$!"
      if [[ -n ${SPAWN_RT_SSH:-} && ${nodes[node_id]} != "$SPAWN_RT_NODE" ]]; then
        mkdir -p "$dir/remote" && echo "${nodes[node_id]}" >"$dir/remote/$!"
      fi
      procid=$((procid + 1))
    done
  done
  # Like srun: report SIGTERM, keep waiting for the tasks (the runtime ends them), then name the failed tasks.
  # (srun also says "got SIGCONT"; a bash CONT trap would make bash drop the TERM that follows it at once.)
  trap 'echo "srun: Job step aborted: Waiting up to $((SPAWN_RT_KILL_WAIT + 2)) seconds for job step to finish." >&2
    echo "srun: forcing job termination" >&2' TERM INT
  local worst=0 pid rc i again
  local -a failures=()
  for ((i = 0; i < ${#pids[@]}; i++)); do
    pid=${pids[i]}
    while :; do
      wait "$pid"
      rc=$?
      kill -0 "$pid" 2>/dev/null && continue
      wait "$pid" 2>/dev/null # the task's own status if a trap cut the first wait short (see rt_run)
      again=$?
      ((again >= 0 && again != 127)) && rc=$again
      break
    done
    rm -f "$dir/steps/$pid" "$dir/remote/$pid"
    ((rc > worst)) && worst=$rc
    ((rc != 0)) && failures+=("${task_nodes[i]}|$(rt_task_exit_text "$rc")|$i")
  done
  rt_report_failures "${failures[@]}"
  exit "$worst"
}

# Sets rt_remote_command: the command line (for the remote login shell) that runs "$@" on node $1 as this srun
# task would run here: same environment (--export=NONE: only SLURM_*, SPAWN_*, PATH), same directory, with this
# node's task root ($SPAWN_RT_ROOT) replaced by the remote node's own (its sshd sets SPAWN_NODE_ROOT).
rt_remote() {
  local node=$1 spec=$2 kv name
  shift 2
  local -a words=("$SPAWN_RT_ROOT" "$PWD")
  while IFS= read -r -d '' kv; do
    name=${kv%%=*}
    case $name in PWD | OLDPWD | SHLVL | _ | SSH_* | BASH_FUNC_*) continue ;; esac
    [[ $spec == NONE && $name != SLURM_* && $name != SLURMD_* && $name != SPAWN_* && $name != PATH ]] && continue
    words+=("$kv")
  done < <(env -0)
  words+=(-- "$@")
  rt_remote_command="exec bash \"\$SPAWN_NODE_DIR/runtime.sh\" exec $(printf '%q ' "${words[@]}")"
}

# runtime.sh exec FROM_ROOT CWD NAME=VALUE... -- COMMAND...: a remote srun task on this node (see rt_remote).
rt_exec() {
  local from=$1 cwd=$2 to=${SPAWN_NODE_ROOT:-$1}
  shift 2
  local -a envs=()
  while (($#)) && [[ $1 != -- ]]; do
    envs+=("${1//"$from"/$to}")
    shift
  done
  (($#)) && shift
  cwd=${cwd//"$from"/$to}
  cd -- "$cwd" 2>/dev/null || cd /tmp || exit 1
  # Known by its pid (sshd made it a session leader; exec keeps the pid) for `runtime.sh signal`.
  if [[ -n ${SPAWN_NODE_DIR:-} ]] && mkdir -p "$SPAWN_NODE_DIR/remote-tasks"; then : >"$SPAWN_NODE_DIR/remote-tasks/$$"; fi
  exec env -i "${envs[@]}" "$@"
}

# runtime.sh signal SIG: on another node of a multi-node job, signal $1 to every srun task node 0 sent here.
rt_signal_remote() {
  local sig=$1 f pid
  for f in "${SPAWN_NODE_DIR:?}"/remote-tasks/*; do
    [[ -e $f ]] || continue
    pid=${f##*/}
    if kill -0 "$pid" 2>/dev/null; then
      kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null
    else
      rm -f "$f"
    fi
  done
}

# srun's words for how a task ended (strsignal for signals).
rt_task_exit_text() {
  local rc=$1
  if ((rc > 128 && rc <= 192)); then
    case $((rc - 128)) in
    1) echo Hangup ;; 2) echo Interrupt ;; 3) echo Quit ;; 4) echo "Illegal instruction" ;; 6) echo Aborted ;;
    7) echo "Bus error" ;; 8) echo "Floating point exception" ;; 9) echo Killed ;; 10) echo "User defined signal 1" ;;
    11) echo "Segmentation fault" ;; 12) echo "User defined signal 2" ;; 13) echo "Broken pipe" ;;
    14) echo "Alarm clock" ;; 15) echo Terminated ;; *) echo "Signal $((rc - 128))" ;;
    esac
  else
    echo "Exited with exit code $rc"
  fi
}

# "srun: error: NODE: tasks 0-1,3: Exited with exit code 4", one line per node and outcome, as srun prints them.
rt_report_failures() {
  local entry node text id key keys="" line
  declare -A ids=()
  for entry in "$@"; do
    IFS='|' read -r node text id <<<"$entry"
    key="$node|$text"
    [[ -z ${ids[$key]+x} ]] && keys+="$key"$'\n'
    ids[$key]+="${ids[$key]:+ }$id"
  done
  while IFS= read -r key; do
    [[ -z $key ]] && continue
    local -a list=()
    read -r -a list <<<"${ids[$key]}"
    local ranges="" lo="" hi="" n
    for n in "${list[@]}"; do
      if [[ -n $hi ]] && ((n == hi + 1)); then hi=$n; continue; fi
      [[ -n $lo ]] && ranges+="${ranges:+,}$lo$( ((hi != lo)) && echo "-$hi")"
      lo=$n hi=$n
    done
    ranges+="${ranges:+,}$lo$( ((hi != lo)) && echo "-$hi")"
    line="task"
    ((${#list[@]} > 1)) && line="tasks"
    printf 'srun: error: %s: %s %s: %s\n' "${key%%|*}" "$line" "$ranges" "${key#*|}" >&2
  done <<<"$keys"
}

# ---------------------------------------------------------------------------------------------------- module

# Prints shell code loading one module as the mapping config says; warnings go to stderr, never a failure.
rt_module_load() {
  local want=$1 name provider value line found=""
  local file=${SPAWN_RUNTIME_DIR:-}/modules
  if [[ -f $file ]]; then
    while IFS=$'\t' read -r name provider value; do
      if [[ $name == "$want" ]]; then found=1; break; fi
    done <"$file"
    if [[ -z $found ]]; then
      # "python/3.11" falls back to a mapping of "python".
      while IFS=$'\t' read -r name provider value; do
        if [[ $name == "${want%%/*}" ]]; then found=1; break; fi
      done <"$file"
    fi
  fi
  if [[ -z $found || -z $provider ]]; then
    printf "spawn: module: '%s' is not mapped (add it to the modules of the mapping config); continuing without it\n" \
      "$want" >&2
    return
  fi
  local q
  q=$(printf '%q' "$value")
  case $provider in
  conda)
    printf 'if command -v conda >/dev/null 2>&1; then eval "$(conda shell.bash hook 2>/dev/null)"; conda activate %s || echo %q >&2; else echo %q >&2; fi\n' \
      "$q" "spawn: module load $want: conda activate $value failed" \
      "spawn: module load $want: conda is not installed here; continuing without environment $value"
    ;;
  spack)
    printf 'if command -v spack >/dev/null 2>&1; then spack load %s || echo %q >&2; else echo %q >&2; fi\n' \
      "$value" "spawn: module load $want: spack load $value failed" \
      "spawn: module load $want: spack is not installed here; continuing without $value"
    ;;
  shell) printf '%s\n' "$value" ;;
  env) printf 'export %s\n' "$value" ;;
  container) printf 'echo %q >&2\n' "spawn: module load $want: provided by the container $value" ;;
  ignore) ;;
  *) printf 'echo %q >&2\n' "spawn: module load $want: unknown provider '$provider'; continuing without it" ;;
  esac
  printf 'export LOADEDMODULES=%q\n' "${LOADEDMODULES:+$LOADEDMODULES:}$want"
}

rt_module() {
  local sub=${1:-help}
  (($#)) && shift
  case $sub in
  load | add | try-load | try-add)
    local m
    for m in "$@"; do [[ $m == -* ]] || rt_module_load "$m"; done
    ;;
  list)
    printf 'echo %q >&2\n' "Currently Loaded Modules: ${LOADEDMODULES:-(none)}" ;;
  avail | spider | show | display | whatis | help | keyword | search | is-loaded | is-avail)
    printf 'echo %q >&2\n' "spawn: module $sub: modules come from the mapping config here" ;;
  *) ;; # unload, purge, use, swap, ...: nothing to undo outside the cluster
  esac
}

rt_ml() {
  if (($# == 0)); then rt_module list; return; fi
  case $1 in
  load | add | try-load | list | avail | spider | show | unload | purge | use | unuse | swap | save | restore | whatis | help)
    rt_module "$@" ;;
  *)
    local m
    for m in "$@"; do [[ $m == -* ]] || rt_module_load "$m"; done
    ;;
  esac
}

case ${1:-} in
run) rt_run "$2" ;;
srun) shift; rt_srun "$@" ;;
exec) shift; rt_exec "$@" ;;
signal) rt_signal_remote "$2" ;;
module) shift; rt_module "$@" ;;
ml) shift; rt_ml "$@" ;;
container-check) rt_container_check "${2:-auto}" ;;
*) rt_die "usage: runtime.sh run DIR | srun ARGS... | module ARGS... | exec ROOT CWD ENV... -- COMMAND... | signal SIG" ;;
esac
