#!/usr/bin/env python3
"""Average CPU per thread (jdk.ThreadCPULoad) and of the JVM (jdk.CPULoad) in a JFR recording.

usage: scripts/jfr-threads.py recording.jfr [LAST_SECONDS]   (needs the JDK's `jfr` tool)
With LAST_SECONDS, only the events of the recording's last seconds count (the measuring window).
"""
import collections
import re
import subprocess
import sys

path = sys.argv[1]
last = float(sys.argv[2]) if len(sys.argv) > 2 else None
out = subprocess.run(["jfr", "print", "--events", "jdk.ThreadCPULoad,jdk.CPULoad", path],
                     capture_output=True, text=True, check=True).stdout


def seconds(block):
    m = re.search(r"startTime = (\d+):(\d+):([\d.]+)", block)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None


blocks = re.split(r"\njdk\.", out)
if last is not None:
    times = [t for t in map(seconds, blocks) if t is not None]
    cutoff = max(times) - last
    blocks = [b for b in blocks if (seconds(b) or 0) >= cutoff]
acc = collections.defaultdict(float)
cnt = collections.Counter()
jvm = []
for block in blocks:
    if block.startswith("CPULoad"):
        u = re.search(r"jvmUser = ([\d.]+)%", block)
        s = re.search(r"jvmSystem = ([\d.]+)%", block)
        m = re.search(r"machineTotal = ([\d.]+)%", block)
        if u and s and m:
            jvm.append((float(u.group(1)) + float(s.group(1)), float(m.group(1))))
        continue
    t = re.search(r'eventThread = "([^"]*)"', block)
    u = re.search(r"user = ([\d.]+)%", block)
    s = re.search(r"system = ([\d.]+)%", block)
    if t and u and s:
        name = re.sub(r"\d+$", "N", t.group(1))
        acc[name] += float(u.group(1)) + float(s.group(1))
        cnt[t.group(1)] += 1
if jvm:
    print("JVM %.1f%% of the machine on average, machine %.1f%% busy (%d samples)" % (
        sum(j for j, _ in jvm) / len(jvm), sum(m for _, m in jvm) / len(jvm), len(jvm)))
samples = max(cnt.values()) if cnt else 1
for name, v in sorted(acc.items(), key=lambda x: -x[1])[:15]:
    print("%6.1f%% of the machine  %s" % (v / samples, name))
