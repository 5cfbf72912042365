#!/usr/bin/env python3
"""Summarises CPU samples of a JFR recording: top self frames, top inclusive frames, threads.

usage: scripts/jfr-top.py recording.jfr [N]   (needs the JDK's `jfr` tool on the PATH)
"""
import collections
import re
import subprocess
import sys


def samples(path):
    out = subprocess.run(["jfr", "print", "--events", "jdk.ExecutionSample", "--stack-depth", "64",
                          path], capture_output=True, text=True, check=True).stdout
    for block in out.split("jdk.ExecutionSample {")[1:]:
        thread = re.search(r'sampledThread = "([^"]*)"', block)
        frames = re.findall(r"^\s+(\S.*?)\s+line:", block, re.M)
        yield (thread.group(1) if thread else "?"), frames


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    self_ = collections.Counter()
    incl = collections.Counter()
    threads = collections.Counter()
    total = 0
    for thread, frames in samples(path):
        if not frames:
            continue
        total += 1
        threads[re.sub(r"\d+$", "N", thread)] += 1
        self_[frames[0]] += 1
        for f in set(frames):
            incl[f] += 1
    print(f"{path}: {total} CPU samples")
    print("-- threads")
    for t, c in threads.most_common(10):
        print(f"{100.0 * c / total:5.1f}% {t}")
    print("-- self (top frame)")
    for f, c in self_.most_common(n):
        print(f"{100.0 * c / total:5.1f}% {f}")
    print("-- inclusive, dev.raftvertx frames")
    for f, c in [x for x in incl.most_common() if "dev.raftvertx" in x[0]][:n]:
        print(f"{100.0 * c / total:5.1f}% {f}")


if __name__ == "__main__":
    main()
