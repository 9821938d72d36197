#!/usr/bin/env python3
"""GPU medians of `tessera bench` runs made with -Dtessera.cuda.passTimes or -Dtessera.vulkan.passTimes.

Reads the bench's output (stdout and stderr together) and prints each result line with the median of
the GPU times of the passes it timed: the last `runs` passes of its kind before it (for an edit's
dense figure, the last `runs` dense passes before its first sparse pass). Profiled passes print no
GPU time, so they are not counted. Usage: gpu_medians.py LOG
"""
import re
import statistics
import sys

GPU = re.compile(r"^pass (dense|sparse|full): .*gpu ([0-9.]+) ms")
RUNS = re.compile(r"^backend .* runs (\d+), medians")
HEADER = re.compile(r"^(== |backend )")
MODEL_DENSE = re.compile(r" dense: median ")
EDIT = re.compile(r"^(\w+) edit ([0-9.]+)%: dense .*?\(ratio ([0-9.]+)x\)")

runs, times, edit_dense = 30, {"dense": [], "sparse": [], "full": []}, None


def median_ms(values):
    return statistics.median(values[-runs:]) if len(values) >= runs else float("nan")


for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if m := RUNS.match(line):
        runs = int(m.group(1))
    if m := GPU.match(line):
        if m.group(1) == "sparse" and edit_dense is None:
            edit_dense = median_ms(times["dense"])
        times[m.group(1)].append(float(m.group(2)))
    elif HEADER.match(line):  # a new bench: what the last one's drag timed belongs to no edit here
        print(line)
        times, edit_dense = {k: [] for k in times}, None
    elif m := EDIT.match(line):
        sparse = median_ms(times["sparse"])
        speedup = edit_dense / sparse
        print(f"  {m.group(1)} {m.group(2)}%: GPU dense {edit_dense:.2f} ms, sparse {sparse:.2f} ms, "
              f"speedup {speedup:.2f}x of MAC ratio {m.group(3)}x ({speedup / float(m.group(3)):.2f})")
        times, edit_dense = {k: [] for k in times}, None
    elif MODEL_DENSE.search(line) and not line.startswith(" "):
        print(f"  {line.split(' dense:')[0]}: GPU dense {median_ms(times['dense']):.2f} ms ({line.split('median ')[1]})")
        times = {k: [] for k in times}
