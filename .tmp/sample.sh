#!/bin/bash
# usage: sample.sh logfile cmd...
LOG=$1; shift
"$@" > $LOG 2>&1 &
P=$!
for i in $(seq 1 ${SAMPLES:-60}); do
  sleep ${EVERY:-0.5}
  [ -d /proc/$P ] || break
  H=$(awk '/\[heap\]/{f=1} f&&/^Rss:/{print $2; exit}' /proc/$P/smaps)
  R=$(awk '/VmRSS/{print $2}' /proc/$P/status)
  C=$(awk '{print $14+$15}' /proc/$P/stat)
  echo "t=$i brk=${H} rss=${R} cpu=${C} lines=$(wc -l < $LOG) last=$(tail -c 120 $LOG | tr '\n' ' ' | cut -c1-100)"
done
kill $P 2>/dev/null
