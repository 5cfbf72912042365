package dev.raftvertx.impl.storage;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.StorageWrite;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Durable writes through {@link FileRaftStorage} itself, one entry of 100 bytes per write (a
 * 154-byte record), with each way of doing file I/O ({@code --fileio}: {@code worker} =
 * {@code VertxStorageFileSystem.FileIo.ORDERED_WORKER}, {@code asyncfile} =
 * {@code FileIo.ASYNC_FILE}, {@code default} = whatever {@code new VertxStorageFileSystem(vertx)}
 * uses).
 *
 * <p>For each group size N, N writes are issued at once from the storage's context and the next
 * N once all are durable (closed loop). All storages are open at once, in their own directories;
 * each runs in short slices (200 ms), interleaved in a rotating order, so that the load of a shared
 * machine falls on all of them alike. Latency is from the call to {@code write} to its
 * completion; CPU is the process's user+system time per write.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * dev.raftvertx.impl.storage.StorageWriteBench [--fileio worker,asyncfile] [--groups 1,16,64]
 * [--slice-ms 200] [--slices 25] [--dir /tmp]}
 */
public final class StorageWriteBench {

  static final int DATA = 100;

  private StorageWriteBench() {
  }

  /** One storage and its position in the log. */
  static final class Target {
    final FileRaftStorage storage;
    final Path dir;
    long sequence;
    long index;

    Target(FileRaftStorage storage, Path dir) {
      this.storage = storage;
      this.dir = dir;
    }

    Future<Void> write(byte[] data) {
      long i = ++index;
      long seq = ++sequence;
      LogEntry e = new LogEntry(i, 1, EntryType.COMMAND, 0, 0, 1_700_000_000_000L, data);
      return storage.write(new StorageWrite(seq, 0, List.of(e),
          seq == 1 ? new HardState(1, null) : null));
    }
  }

  static final class Result {
    long[] latencies = new long[1 << 16];
    int count;
    long elapsedNs;
    long cpuNs;

    double perSecond() {
      return count / (elapsedNs / 1e9);
    }

    double percentileUs(double p) {
      long[] lat = Arrays.copyOf(latencies, count);
      Arrays.sort(lat);
      int i = (int) Math.ceil(p / 100 * lat.length) - 1;
      return lat[Math.max(0, Math.min(lat.length - 1, i))] / 1000.0;
    }
  }

  /** Closed loop of groups of N writes on the storage's context until the deadline. */
  static final class Loop {
    final Target target;
    final int group;
    final long deadline;
    final byte[] data = new byte[DATA];
    final Promise<Void> done = Promise.promise();
    final Result into;
    int outstanding;

    Loop(Target target, int group, long deadline, Result into) {
      this.target = target;
      this.group = group;
      this.deadline = deadline;
      this.into = into;
    }

    void issueGroup() {
      if (System.nanoTime() >= deadline) {
        done.tryComplete();
        return;
      }
      outstanding = group;
      for (int i = 0; i < group; i++) {
        long start = System.nanoTime();
        target.write(data).onComplete(ar -> {
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          if (into != null) {
            if (into.count == into.latencies.length) {
              into.latencies = Arrays.copyOf(into.latencies, into.count * 2);
            }
            into.latencies[into.count++] = System.nanoTime() - start;
          }
          if (--outstanding == 0) {
            issueGroup();
          }
        });
      }
    }
  }

  static void slice(Context context, Target target, int group, long nanos, Result into)
      throws Exception {
    long cpu0 = SliceBench.processCpuNs();
    long t0 = System.nanoTime();
    Loop loop = new Loop(target, group, t0 + nanos, into);
    SliceBench.onContext(context, () -> {
      loop.issueGroup();
      return loop.done.future();
    });
    if (into != null) {
      into.elapsedNs += System.nanoTime() - t0;
      into.cpuNs += SliceBench.processCpuNs() - cpu0;
    }
  }

  static StorageFileSystem fileSystem(Vertx vertx, String fileIo) {
    return switch (fileIo) {
      case "default" -> new VertxStorageFileSystem(vertx);
      case "worker" -> new VertxStorageFileSystem(vertx, VertxStorageFileSystem.FileIo.ORDERED_WORKER);
      case "asyncfile" -> new VertxStorageFileSystem(vertx, VertxStorageFileSystem.FileIo.ASYNC_FILE);
      default -> throw new IllegalArgumentException("unknown --fileio " + fileIo);
    };
  }

  public static void main(String[] args) throws Exception {
    SliceBench.Options o = SliceBench.Options.parse(args, "fileio", List.of("worker", "asyncfile"));
    int sliceMs = o.sliceMs();
    int slices = o.slices();
    List<String> fileIos = o.ways();
    Path work = Files.createTempDirectory(o.dir(), "storage-write-bench");
    Vertx vertx = Vertx.vertx();
    Context context = SliceBench.context(vertx);
    System.out.println("loadavg at the start: " + SliceBench.loadAverage());
    try {
      for (int group : o.groups()) {
        Map<String, Target> targets = new LinkedHashMap<>();
        Map<String, Result> results = new LinkedHashMap<>();
        for (String io : fileIos) {
          Path d = work.resolve(io + "-" + group);
          FileRaftStorage s = new FileRaftStorage(vertx, d,
              FileRaftStorage.DEFAULT_MAX_SEGMENT_SIZE, fileSystem(vertx, io));
          SliceBench.onContext(context, () -> s.open("bench", "n1"));
          targets.put(io, new Target(s, d));
          results.put(io, new Result());
        }
        String[] load = SliceBench.interleave(o, (io, counted) -> slice(context, targets.get(io),
            group, o.sliceNanos(), counted ? results.get(io) : null));
        String loadBefore = load[0];
        String loadAfter = load[1];
        for (Target t : targets.values()) {
          SliceBench.onContext(context, t.storage::close);
          SliceBench.deleteTree(t.dir);
        }
        System.out.println();
        System.out.println("group=" + group + ": " + slices + " interleaved slices of " + sliceMs
            + " ms per way; loadavg before \"" + loadBefore + "\" after \"" + loadAfter + "\"");
        System.out.println(String.format(Locale.ROOT, "%-10s %10s %8s %8s %9s %12s", "fileio",
            "writes/s", "p50 us", "p99 us", "p999 us", "cpu us/write"));
        for (String io : fileIos) {
          Result r = results.get(io);
          System.out.println(String.format(Locale.ROOT, "%-10s %10.0f %8.0f %8.0f %9.0f %12.1f",
              io, r.perSecond(), r.percentileUs(50), r.percentileUs(99), r.percentileUs(99.9),
              r.cpuNs / 1000.0 / r.count));
        }
        for (String io : fileIos) {
          Result r = results.get(io);
          System.out.println(String.format(Locale.ROOT,
              "RESULT bench=storage-write fileio=%s group=%d writes_per_s=%.0f p50_us=%.0f"
                  + " p99_us=%.0f p999_us=%.0f cpu_us_per_write=%.1f n=%d"
                  + " loadavg_before=\"%s\" loadavg_after=\"%s\"",
              io, group, r.perSecond(), r.percentileUs(50), r.percentileUs(99),
              r.percentileUs(99.9), r.cpuNs / 1000.0 / r.count, r.count, loadBefore, loadAfter));
        }
      }
    } finally {
      vertx.close().await(1, TimeUnit.MINUTES);
      SliceBench.deleteTree(work);
    }
  }

}
