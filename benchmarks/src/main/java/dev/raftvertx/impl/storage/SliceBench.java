package dev.raftvertx.impl.storage;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What the storage benchmarks that compare several ways in one JVM share: their options, running
 * each way in short slices interleaved in a rotating order (so that a shared machine's load falls
 * on all of them alike), calls on a Vert.x context from the benchmark's thread, process CPU time,
 * the load average and cleaning up.
 */
final class SliceBench {

  private SliceBench() {
  }

  /**
   * @param sliceMs length of one slice
   * @param slices counted slices per way and group size
   * @param groups group sizes (writes issued at once)
   * @param ways the ways to compare
   * @param dir where the work directory goes
   */
  record Options(int sliceMs, int slices, int[] groups, List<String> ways, Path dir) {

    /**
     * @param args {@code --slice-ms N --slices N --groups a,b --<waysOption> x,y --dir D}
     * @param waysOption the name of the option listing the ways, without dashes
     * @param defaultWays the ways compared when the option is absent
     * @return the options
     */
    static Options parse(String[] args, String waysOption, List<String> defaultWays) {
      int sliceMs = 200;
      int slices = 25;
      int[] groups = {1, 16, 64};
      List<String> ways = defaultWays;
      Path dir = Path.of(System.getProperty("java.io.tmpdir"));
      for (int i = 0; i < args.length; i += 2) {
        String v = args[i + 1];
        String name = args[i];
        if (name.equals("--" + waysOption)) {
          ways = List.of(v.split(","));
          continue;
        }
        switch (name) {
          case "--slice-ms" -> sliceMs = Integer.parseInt(v);
          case "--slices" -> slices = Integer.parseInt(v);
          case "--groups" -> groups = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt)
              .toArray();
          case "--dir" -> dir = Path.of(v);
          default -> throw new IllegalArgumentException("unknown option " + name);
        }
      }
      return new Options(sliceMs, slices, groups, ways, dir);
    }

    long sliceNanos() {
      return sliceMs * 1_000_000L;
    }
  }

  /** Runs one slice of one way; {@code counted} is false during the warm-up. */
  @FunctionalInterface
  interface Slice {
    void run(String way, boolean counted) throws Exception;
  }

  /**
   * Runs 2 warm-up slices of each way, then the counted slices, rotating the order each round so
   * that no way always follows the same one.
   *
   * @return the load average before and after the counted slices
   */
  static String[] interleave(Options o, Slice slice) throws Exception {
    for (int w = 0; w < 2; w++) {
      for (String way : o.ways()) {
        slice.run(way, false);
      }
    }
    String before = loadAverage();
    int n = o.ways().size();
    for (int k = 0; k < o.slices(); k++) {
      for (int j = 0; j < n; j++) {
        slice.run(o.ways().get((j + k) % n), true);
      }
    }
    return new String[] {before, loadAverage()};
  }

  /** @return an event-loop context of vertx */
  static Context context(Vertx vertx) throws Exception {
    return onContext(vertx.getOrCreateContext(),
        () -> Future.succeededFuture(Vertx.currentContext()));
  }

  /** Runs action on context and waits (from the benchmark's own thread) for its future. */
  static <T> T onContext(Context context, Supplier<Future<T>> action) throws Exception {
    Promise<T> p = Promise.promise();
    context.runOnContext(v -> action.get().onComplete(p));
    return p.future().toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
  }

  static long processCpuNs() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "?";
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
