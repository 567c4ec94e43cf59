#!/bin/bash
# Copyright 2026 Huawei Technologies Co., Ltd
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
# http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ============================================================================
# Running a job so that a scheduler can stop it, shared by the launchers (run_standalone_train.sh,
# msrun_common.sh, run_eval.sh). A launcher sources this file and calls
#   job_run KIND COMMAND...      # KIND: msrun (COMMAND is msrun ...) or python (one process)
# which runs COMMAND in a session of its own and returns its exit status.
#
# SIGTERM, SIGINT and SIGHUP to the launcher are forwarded as SIGTERM or SIGINT (HUP as TERM) to the
# job's workers (python: the process itself; msrun: the workers, which msrun starts in sessions of
# their own, not its scheduler process, which must serve the workers until they are done). They stop
# after their current iteration with a checkpoint (src/engine/stop.py). JOB_REST_SECONDS after msrun's
# workers have exited, the rest of the job (msrun, its scheduler process) is killed. After
# JOB_GRACE_SECONDS whatever is left of the job (msrun, its scheduler, workers and their children, all
# of which are tracked while the job runs) is killed with SIGKILL; so is what msrun leaves if it ends
# first. The launcher returns only when no process of the job remains, with 128 + the signal it
# received (143 for SIGTERM). A second signal is forwarded again: the workers then stop at once.

# Read by the launchers that source this file.
# shellcheck disable=SC2034
JOB_GRACE_SECONDS=120
# Seconds msrun and its scheduler process get to end by themselves after the last local worker exited.
JOB_REST_SECONDS=10

# job_set_grace VALUE: JOB_GRACE_SECONDS=VALUE (--grace_seconds); an error unless VALUE is an integer >= 0.
job_set_grace() {
    if ! [[ "$1" =~ ^[0-9]+$ ]]; then
        echo "error: --grace_seconds must be a non-negative integer, got '$1'" >&2
        return 1
    fi
    JOB_GRACE_SECONDS=$((10#$1))
}

# job_track: add the job's current processes, the descendants of those tracked, to JOB_PIDS (a process
# stays tracked when its parent ends and it is handed to init).
job_track() {
    JOB_PIDS="$(ps -eo pid=,ppid= | awk -v known="${JOB_PIDS//$'\n'/ }" '
        BEGIN { n = split(known, list, " "); for (i = 1; i <= n; i++) keep[list[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                changed = 0
                for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
            } while (changed)
            for (p in keep) print p
        }' | sort -n)"
}

# job_alive [PIDS]: those of PIDS (default: the tracked processes) still running (zombies excluded).
job_alive() {
    local pids="${1:-$JOB_PIDS}"
    ps -o pid=,stat= -p "$(echo "$pids" | paste -sd,)" 2>/dev/null | awk '$2 !~ /^Z/ {print $1}'
}

# job_kill PIDS...: SIGKILL to PIDS and their whole process groups (a child forked meanwhile included),
# never to the launcher's own group.
job_kill() {
    local own groups
    own="$(ps -o pgid= -p $$ | tr -d ' ')"
    groups="$(ps -o pgid= -p "$(echo "$@" | tr ' ' ',')" 2>/dev/null | sort -un | awk -v own="$own" '$1 != own {print "-" $1}')"
    # shellcheck disable=SC2086
    kill -KILL -- "$@" $groups 2>/dev/null || true
}

# job_signal SIGNAL: trap of the launcher; forwards the stop to the workers (see the top of this file).
job_signal() {
    local sig="$1" targets
    job_track
    if [ -z "$JOB_SIGNAL" ]; then
        JOB_SIGNAL="$sig"
        JOB_DEADLINE=$((SECONDS + JOB_GRACE_SECONDS))
        echo "[job] received SIG$sig: stopping the job (SIGKILL after $JOB_GRACE_SECONDS s)" >&2
    fi
    [ "$sig" = HUP ] && sig=TERM
    targets="$JOB_PID"
    if [ "$JOB_KIND" = msrun ]; then
        # msrun's workers lead sessions of their own; a job not started yet has none: stop msrun then.
        JOB_WORKERS="$(ps -o pid=,sid= --ppid "$JOB_PID" 2>/dev/null | awk '$1 == $2 {print $1}')"
        targets="${JOB_WORKERS:-$JOB_PID}"
    fi
    # shellcheck disable=SC2086
    kill -s "$sig" $targets 2>/dev/null || true
}

# job_run KIND COMMAND...: run COMMAND (see the top of this file); returns its exit status, or
# 128 + the signal that stopped it.
job_run() {
    JOB_KIND="$1"
    shift
    JOB_SIGNAL=""
    JOB_DEADLINE=""
    JOB_WORKERS=""
    JOB_REST_DEADLINE=""
    trap 'job_signal TERM' TERM
    trap 'job_signal INT' INT
    trap 'job_signal HUP' HUP
    # Own session: a terminal's Ctrl-C reaches the launcher only (msrun would SIGKILL its workers on it).
    setsid "$@" &
    JOB_PID=$!
    JOB_PIDS="$JOB_PID"
    local alive status=0
    while alive="$(job_alive)" && [ -n "$alive" ]; do
        job_track
        if [ -z "$JOB_DEADLINE" ] && [ -z "$(job_alive "$JOB_PID")" ]; then
            # msrun ended (killed?) and left processes: its workers got the parent-death SIGTERM.
            JOB_DEADLINE=$((SECONDS + JOB_GRACE_SECONDS))
            JOB_WORKERS="$(ps -o pid=,sid= -p "${alive//$'\n'/,}" | awk '$1 == $2 {print $1}')"
            echo "[job] $1 ended, leaving processes; SIGKILL to them after $JOB_GRACE_SECONDS s" >&2
        fi
        if [ -n "$JOB_DEADLINE" ] && [ "$SECONDS" -ge "$JOB_DEADLINE" ]; then
            echo "[job] processes left after $JOB_GRACE_SECONDS s, killed: ${alive//$'\n'/ }" >&2
            # shellcheck disable=SC2086
            job_kill $alive
        elif [ -n "$JOB_WORKERS" ] && [ -z "$(job_alive "$JOB_WORKERS")" ]; then
            # The workers are done: msrun's scheduler process has nothing left to serve once other
            # nodes' workers have left too (it may otherwise wait for its timeouts), msrun nothing to watch.
            JOB_REST_DEADLINE="${JOB_REST_DEADLINE:-$((SECONDS + JOB_REST_SECONDS))}"
            if [ "$SECONDS" -ge "$JOB_REST_DEADLINE" ]; then
                # shellcheck disable=SC2086
                job_kill $alive
            fi
        fi
        sleep 0.5 &
        wait $! 2>/dev/null || true      # a trapped signal ends the wait at once
    done
    wait "$JOB_PID" 2>/dev/null || status=$?
    trap - TERM INT HUP
    if [ -n "$JOB_SIGNAL" ]; then
        status=$((128 + $(kill -l "$JOB_SIGNAL")))
        echo "[job] stopped by SIG$JOB_SIGNAL; no process of the job is left (exit status $status)" >&2
    fi
    return "$status"
}
