package dev.raftvertx.impl.storage;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.StorageWrite;
import dev.raftvertx.spi.StoredState;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Restart: opening a {@link FileRaftStorage} whose log holds {@code entries} records (written
 * once in the setup, through the storage itself), i.e. the segment files read in chunks, every
 * record verified and decoded, the state file read. The target is a million 100-byte
 * entries in about a second: {@code -p entries=1000000}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class RecoveryBench {

  @Param({"100000"})
  int entries;

  @Param({"140"})
  int dataBytes;

  Vertx vertx;
  Path dir;

  @Setup
  public void setup() throws Exception {
    vertx = Vertx.vertx();
    dir = Files.createTempDirectory("raft-vertx-recovery-bench");
    FileRaftStorage s = new FileRaftStorage(vertx, dir);
    s.open("bench", "n1").await(1, TimeUnit.MINUTES);
    Random r = new Random(1);
    long sequence = 0;
    List<LogEntry> batch = new ArrayList<>();
    for (int i = 1; i <= entries; i++) {
      byte[] data = new byte[dataBytes];
      r.nextBytes(data);
      batch.add(new LogEntry(i, 1, EntryType.COMMAND, 0, 0, 1_700_000_000_000L, data));
      if (batch.size() == 10_000 || i == entries) {
        s.write(new StorageWrite(++sequence, 0, batch,
            sequence == 1 ? new HardState(1, null) : null)).await(1, TimeUnit.MINUTES);
        batch = new ArrayList<>();
      }
    }
    s.close().await(1, TimeUnit.MINUTES);
  }

  @Benchmark
  public int recover() throws Exception {
    FileRaftStorage s = new FileRaftStorage(vertx, dir);
    try {
      StoredState state = s.open("bench", "n1").await(1, TimeUnit.MINUTES);
      if (state.entries().size() != entries) {
        throw new IllegalStateException("recovered " + state.entries().size() + " entries");
      }
      return state.entries().size();
    } finally {
      s.close().await(1, TimeUnit.MINUTES);
    }
  }

  @TearDown
  public void tearDown() throws Exception {
    vertx.close().await(1, TimeUnit.MINUTES);
    SliceBench.deleteTree(dir);
  }
}
