#!/usr/bin/env bash
# 16-core figures for BENCHMARKS.md: the seed's experiment, a USL-sized sweep, granularity.
export LD_LIBRARY_PATH=.device/lib
S=.device/scalelab
{ nproc; lscpu | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|MHz"; cat /proc/loadavg; } > $OUT/machine.txt 2>&1
time $S run --workload cpu,io --model serial,threads,processes,async,gil --seed 1 --out $OUT/run -q > $OUT/run.txt 2> $OUT/run.err
$S report $OUT/run --out $OUT/again -q > /dev/null 2>&1; cmp $OUT/run/report.md $OUT/again/report.md && echo "report.md identical" >> $OUT/run.txt
time $S run --workload cpu --model serial,threads,processes,gil --workers 1,2,4,8,12,16,24,32 --cpu-work 5ms --tasks 96 --repeat 5 --seed 2 --out $OUT/usl -q > $OUT/usl.txt 2> $OUT/usl.err
for m in threads processes async; do
  timeout 100 $S granularity --model $m --seed 1 --out $OUT/gran-$m -q > $OUT/gran-$m.txt 2>&1
done
rm -rf $OUT/again
cd $OUT && tar czf figures.tgz --remove-files machine.txt run.txt run.err usl.txt usl.err gran-* run usl && ls -la $OUT
