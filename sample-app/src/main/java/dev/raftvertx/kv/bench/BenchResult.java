package dev.raftvertx.kv.bench;

import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * The figures of one configuration, printed as a table row and as one {@code RESULT} line (the
 * format the peers' benchmarks print).
 *
 * @param mode "remote" or "embedded"
 * @param spec the configuration
 * @param nodes cluster size
 * @param m what the measuring window saw
 * @param elections terms begun during the configuration (0 when the leader stayed)
 */
public record BenchResult(String mode, LoadSpec spec, int nodes, ClosedLoop.Measurement m,
    long elections) {

  /** @return operations answered per second in the window */
  public double opsPerSecond() {
    return m.histogram().getTotalCount() / m.seconds();
  }

  /** @return CPU cores used by all the benchmark's processes on average, or -1 if unknown */
  public double cpuCores() {
    return m.cpuMillis() < 0 ? -1 : m.cpuMillis() / 1000.0 / m.seconds();
  }

  /** @return CPU milliseconds per 1000 operations, or -1 if unknown */
  public double cpuMillisPerKop() {
    long n = m.histogram().getTotalCount();
    return m.cpuMillis() < 0 || n == 0 ? -1 : m.cpuMillis() * 1000.0 / n;
  }

  /** @return the machine-readable line */
  public String resultLine() {
    Histogram h = m.histogram();
    return String.format(Locale.ROOT, "RESULT system=raft-vertx mode=%s op=%s consistency=%s"
        + " nodes=%d clients=%d payload=%d ops_per_s=%.0f p50_us=%d p99_us=%d p999_us=%d"
        + " cpu_cores=%.2f cpu_ms_per_kop=%.0f max_us=%d mean_us=%.0f errors=%d elections=%d"
        + " dur_s=%.1f loadavg1=%s",
        mode, spec.op(), spec.consistency(), nodes, spec.clients(), spec.payload(),
        opsPerSecond(), h.getValueAtPercentile(50), h.getValueAtPercentile(99),
        h.getValueAtPercentile(99.9), cpuCores(), cpuMillisPerKop(), h.getMaxValue(),
        h.getMean(), m.errors(), elections, m.seconds(), m.loadAverage1());
  }

  /** @return the header of {@link #tableRow()} */
  public static String tableHeader() {
    return String.format(Locale.ROOT, "%-8s %-5s %-12s %5s %9s %8s %8s %8s %9s %10s %6s %5s",
        "mode", "op", "consistency", "C", "ops/s", "p50 us", "p99 us", "p999 us", "cpu cores",
        "cpu ms/kop", "errors", "elect");
  }

  /** @return one row of the human-readable table */
  public String tableRow() {
    Histogram h = m.histogram();
    return String.format(Locale.ROOT, "%-8s %-5s %-12s %5d %9.0f %8d %8d %8d %9.2f %10.0f %6d %5d",
        mode, spec.op(), spec.consistency(), spec.clients(), opsPerSecond(),
        h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9),
        cpuCores(), cpuMillisPerKop(), m.errors(), elections);
  }
}
