package dev.raftvertx.kv.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The CPU time (user + system) of a set of processes, from {@code /proc/<pid>/stat}, and the
 * machine's load average: how the benchmark accounts for the CPU all its processes use.
 */
public final class CpuProbe {

  private final List<Long> pids;
  private final long clockTicksPerSecond;

  /**
   * @param pids the processes to account for
   * @param clockTicksPerSecond the kernel's clock tick rate ({@link #clockTicksPerSecond()})
   */
  public CpuProbe(List<Long> pids, long clockTicksPerSecond) {
    this.pids = List.copyOf(pids);
    this.clockTicksPerSecond = clockTicksPerSecond;
  }

  /** @return the processes accounted for */
  public List<Long> pids() {
    return pids;
  }

  /** @return the clock tick rate used */
  public long clockTicks() {
    return clockTicksPerSecond;
  }

  /**
   * @return the CPU milliseconds all the processes used so far, or -1 if one of them cannot be
   *     read (not Linux, or the process is gone)
   */
  public long cpuMillis() {
    long ticks = 0;
    for (long pid : pids) {
      long t = ticks(pid);
      if (t < 0) {
        return -1;
      }
      ticks += t;
    }
    return ticks * 1000 / clockTicksPerSecond;
  }

  /**
   * @param pid a process
   * @return its user + system time in clock ticks, or -1 if unreadable
   */
  static long ticks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // The command name (field 2) may hold spaces: count the fields after its closing ')'.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** @return the kernel's clock ticks per second ({@code getconf CLK_TCK}), else 100 */
  public static long clockTicksPerSecond() {
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
        long v = Long.parseLong(out);
        if (v > 0) {
          return v;
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through to the usual value
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 100;
  }

  /** @return the 1-minute load average, or "NA" */
  public static String loadAverage1() {
    String[] f = loadAverages().split(" ");
    return f[0];
  }

  /** @return the 1, 5 and 15-minute load averages separated by spaces, or "NA" */
  public static String loadAverages() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "NA";
    }
  }
}
