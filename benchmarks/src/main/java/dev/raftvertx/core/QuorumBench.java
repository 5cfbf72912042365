package dev.raftvertx.core;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The leader's commit index computation (core {@link Quorum}), which runs on every append
 * acknowledgement: as {@code RaftCore.maybeCommit} does it (a match map built from the progress
 * of each follower plus the leader's durable index, then the majority index of each half), for a
 * simple and a joint configuration.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
public class QuorumBench {

  @Param({"3", "5"})
  int voters;

  Configuration simple;
  Configuration joint;
  Map<String, Long> progress;
  long index;

  @Setup
  public void setup() {
    TreeSet<String> ids = new TreeSet<>();
    for (int i = 1; i <= voters; i++) {
      ids.add("n" + i);
    }
    simple = Configuration.of(ids);
    TreeSet<String> next = new TreeSet<>(ids);
    next.remove("n1");
    next.add("n" + (voters + 1));
    joint = new Configuration(next, ids, new TreeSet<>(), new java.util.TreeMap<>());
    progress = new LinkedHashMap<>();
    for (int i = 2; i <= voters + 1; i++) {
      progress.put("n" + i, 1000L + i);
    }
    index = 2000;
  }

  /** One acknowledgement moves a follower's match index, then the commit index is recomputed. */
  private Map<String, Long> acknowledge() {
    index++;
    progress.put("n2", index);
    Map<String, Long> match = new HashMap<>();
    for (Map.Entry<String, Long> e : progress.entrySet()) {
      match.put(e.getKey(), e.getValue());
    }
    match.put("n1", index);
    return match;
  }

  @Benchmark
  public long commitIndexSimple() {
    return Quorum.committedIndex(simple, acknowledge());
  }

  @Benchmark
  public long commitIndexJoint() {
    return Quorum.committedIndex(joint, acknowledge());
  }
}
