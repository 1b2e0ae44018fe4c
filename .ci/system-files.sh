#!/bin/sh
# Files (under nodes/src, sim/src and systems/src if present) naming each shipped system, at a
# commit (default HEAD): how spread out one system is. Usage: .ci/system-files.sh [COMMIT]
rev=${1:-HEAD}
for s in "unique_ids|unique-ids|UniqueId" "broadcast|Broadcast" "g_counter|g-counter|GCounter" \
         "election|Election" "bridge_four|bridge-four|BridgeFour|Bridge Four" \
         "work_queue|work-queue|WorkQueue|QueueClient" "systems::echo|echo::Echo|EchoOps|\"echo\""; do
    files=$(git grep -lE "$s" "$rev" -- nodes/src sim/src systems/src 2>/dev/null | sed "s/^$rev://")
    n=$(printf '%s\n' "$files" | grep -c .)
    printf '%-50s %3d files: %s\n' "$s" "$n" "$(printf '%s\n' "$files" | tr '\n' ' ')"
done
