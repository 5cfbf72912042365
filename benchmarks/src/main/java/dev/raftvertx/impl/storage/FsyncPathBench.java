package dev.raftvertx.impl.storage;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The raw cost of one durable append (a 128-byte record, then fsync) from a Vert.x event loop,
 * through each way of getting the blocking calls off the event loop, with completions back on the
 * event loop's context in order. Not JMH: it needs per-append latency percentiles and CPU time.
 *
 * <p>Paths ({@code --paths}):
 * <ul>
 *   <li>{@code hop}: no I/O: an empty ordered worker task per append, for the cost of one round
 *     trip from the event loop to a worker thread and back (not in the default list).</li>
 *   <li>{@code asyncfile}: Vert.x {@link AsyncFile}: {@code write} (an AsynchronousFileChannel
 *     task on the worker pool, then back to the event loop), then {@code flush} (an
 *     executeBlocking task doing {@code force(false)}, then back): what
 *     {@code VertxStorageFileSystem} does today. Appends issued together write concurrently and
 *     share a flush (group commit: a flush starts once no flush runs and covers every write
 *     completed before it).</li>
 *   <li>{@code worker2}: a FileChannel with the write and the force as two ordered worker tasks
 *     (the same group commit as asyncfile): two round trips per durable append.</li>
 *   <li>{@code worker1}: one ordered worker task per append doing {@code write} then
 *     {@code force(false)}: one round trip, but one fsync per append.</li>
 *   <li>{@code dsync}: one ordered worker task per append doing one {@code write} on a file opened
 *     with {@code DSYNC}: one round trip, one sync per append.</li>
 *   <li>{@code batch}: a queue drained by one worker task at a time: every append queued when it
 *     runs is written, then one {@code force(false)}, then one hop back completes them all.</li>
 *   <li>{@code dsyncbatch}: the same queue, the appends written with one {@code write} on a DSYNC
 *     file.</li>
 * </ul>
 *
 * <p>For each group size, every path runs in short slices (200 ms), interleaved in a rotating
 * order, so that the load of a shared machine falls on all of them alike; a group of N is N
 * appends issued at once from the event loop, the next group once all N are durable (closed
 * loop). The
 * file is extended as {@link FileRaftStorage} does: 1 MiB of zeros written ahead of the records,
 * in the same write. Latency is from issue to completion on the event loop; CPU is the process's
 * user+system time per append.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * dev.raftvertx.impl.storage.FsyncPathBench
 * [--slice-ms 200] [--slices 25] [--groups 1,16,64] [--paths asyncfile,worker2,...] [--dir /tmp]}
 */
public final class FsyncPathBench {

  static final int RECORD = 128;
  static final long PREALLOCATION_STEP = 1L << 20;
  static final long FILE_LIMIT = 256L << 20;

  private FsyncPathBench() {
  }

  /** A way of making appends durable; called on the event loop only. */
  interface Appender {
    /** @return completes on the event loop once the record is durable */
    Future<Void> append(byte[] record);

    Future<Void> close();
  }

  /** The next write of an append: the record, plus zeros ahead when the file must grow. */
  static final class Layout {
    long end;
    long allocated;

    /** @return the bytes to write at {@link #end} before the call */
    byte[] frame(byte[] record) {
      long recordsEnd = end + record.length;
      if (recordsEnd <= allocated) {
        return record;
      }
      long ahead = (recordsEnd / PREALLOCATION_STEP + 1) * PREALLOCATION_STEP;
      byte[] b = new byte[(int) (ahead - end)];
      System.arraycopy(record, 0, b, 0, record.length);
      allocated = ahead;
      return b;
    }

    long advance(byte[] record) {
      long at = end;
      end += record.length;
      if (end + RECORD > FILE_LIMIT) {
        end = 0; // wrap around: overwrite the (allocated) start of the file
      }
      return at;
    }
  }

  // ------------------------------------------------------------------------------ group commit

  /**
   * Writes that complete separately (possibly out of order), then one fsync for the longest
   * prefix of appends whose writes completed before it, so that appends complete in order.
   */
  abstract static class GroupCommitAppender implements Appender {
    private static final class Pending {
      final Promise<Void> promise = Promise.promise();
      boolean written;
    }

    final Layout layout = new Layout();
    private final java.util.ArrayDeque<Pending> pending = new java.util.ArrayDeque<>();
    private boolean forcing;

    abstract Future<Void> write(byte[] bytes, long position);

    abstract Future<Void> force();

    @Override
    public Future<Void> append(byte[] record) {
      byte[] bytes = layout.frame(record);
      long at = layout.advance(record);
      Pending p = new Pending();
      pending.addLast(p);
      write(bytes, at).onComplete(ar -> {
        if (ar.failed()) {
          p.promise.fail(ar.cause());
          return;
        }
        p.written = true;
        maybeForce();
      });
      return p.promise.future();
    }

    private void maybeForce() {
      if (forcing || pending.isEmpty() || !pending.peekFirst().written) {
        return;
      }
      forcing = true;
      List<Pending> group = new ArrayList<>();
      while (!pending.isEmpty() && pending.peekFirst().written) {
        group.add(pending.pollFirst());
      }
      force().onComplete(ar -> {
        forcing = false;
        for (Pending p : group) {
          p.promise.handle(ar);
        }
        maybeForce();
      });
    }
  }

  static final class AsyncFileAppender extends GroupCommitAppender {
    private final AsyncFile file;

    AsyncFileAppender(AsyncFile file) {
      this.file = file;
    }

    @Override
    Future<Void> write(byte[] bytes, long position) {
      return file.write(Buffer.buffer(bytes), position);
    }

    @Override
    Future<Void> force() {
      return file.flush();
    }

    @Override
    public Future<Void> close() {
      return file.close();
    }
  }

  static final class Worker2Appender extends GroupCommitAppender {
    private final Context context;
    private final FileChannel ch;

    Worker2Appender(Context context, FileChannel ch) {
      this.context = context;
      this.ch = ch;
    }

    @Override
    Future<Void> write(byte[] bytes, long position) {
      return ordered(context, () -> writeFully(ch, ByteBuffer.wrap(bytes), position));
    }

    @Override
    Future<Void> force() {
      return ordered(context, () -> ch.force(false));
    }

    @Override
    public Future<Void> close() {
      return closeOn(context, ch);
    }
  }

  /** One ordered worker task per append: write, then force unless the file is DSYNC. */
  static final class OneTaskAppender implements Appender {
    private final Context context;
    private final FileChannel ch;
    private final boolean force;
    private final Layout layout = new Layout();

    OneTaskAppender(Context context, FileChannel ch, boolean force) {
      this.context = context;
      this.ch = ch;
      this.force = force;
    }

    @Override
    public Future<Void> append(byte[] record) {
      byte[] bytes = layout.frame(record);
      long at = layout.advance(record);
      return ordered(context, () -> {
        writeFully(ch, ByteBuffer.wrap(bytes), at);
        if (force) {
          ch.force(false);
        }
      });
    }

    @Override
    public Future<Void> close() {
      return closeOn(context, ch);
    }
  }

  /**
   * A queue drained by one worker task at a time: it writes every queued append (contiguous ones
   * as one write), forces once (unless DSYNC), and completes them all with one hop back.
   */
  static final class BatchAppender implements Appender {
    private record Op(byte[] bytes, long position, Promise<Void> promise) {
    }

    private final Context context;
    private final FileChannel ch;
    private final boolean force;
    private final Layout layout = new Layout();
    private final ConcurrentLinkedQueue<Op> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();

    BatchAppender(Context context, FileChannel ch, boolean force) {
      this.context = context;
      this.ch = ch;
      this.force = force;
    }

    @Override
    public Future<Void> append(byte[] record) {
      byte[] bytes = layout.frame(record);
      long at = layout.advance(record);
      Promise<Void> p = Promise.promise();
      queue.add(new Op(bytes, at, p));
      if (scheduled.compareAndSet(false, true)) {
        context.executeBlocking(this::drain, false);
      }
      return p.future();
    }

    private Void drain() {
      while (true) {
        List<Op> batch = new ArrayList<>();
        Op op;
        while ((op = queue.poll()) != null) {
          batch.add(op);
        }
        Throwable error = null;
        try {
          int i = 0;
          while (i < batch.size()) {
            int j = i + 1;
            int length = batch.get(i).bytes.length;
            while (j < batch.size() && batch.get(j).position
                == batch.get(j - 1).position + batch.get(j - 1).bytes.length) {
              length += batch.get(j).bytes.length;
              j++;
            }
            ByteBuffer buf = ByteBuffer.allocate(length);
            for (int k = i; k < j; k++) {
              buf.put(batch.get(k).bytes);
            }
            buf.flip();
            writeFully(ch, buf, batch.get(i).position);
            i = j;
          }
          if (force) {
            ch.force(false);
          }
        } catch (IOException | RuntimeException e) {
          error = e;
        }
        Throwable e = error;
        context.runOnContext(v -> {
          for (Op o : batch) {
            if (e == null) {
              o.promise.complete();
            } else {
              o.promise.fail(e);
            }
          }
        });
        scheduled.set(false);
        if (queue.isEmpty() || !scheduled.compareAndSet(false, true)) {
          return null;
        }
      }
    }

    @Override
    public Future<Void> close() {
      return closeOn(context, ch);
    }
  }

  /** No I/O at all: one ordered worker task per append, the cost of the round trip alone. */
  static final class HopAppender implements Appender {
    private final Context context;

    HopAppender(Context context) {
      this.context = context;
    }

    @Override
    public Future<Void> append(byte[] record) {
      return ordered(context, () -> { });
    }

    @Override
    public Future<Void> close() {
      return Future.succeededFuture();
    }
  }

  /**
   * Runs a blocking action as an ordered worker task and completes the result on the context,
   * in task order. (Completing a future from the worker and letting Vert.x dispatch its listener
   * does not keep that order: a future completed before its listener is attached runs the
   * listener at once, ahead of the dispatches of earlier futures still queued on the event loop.)
   */
  static Future<Void> ordered(Context context, BlockingAction action) {
    Promise<Void> p = Promise.promise();
    context.executeBlocking(() -> {
      try {
        action.run();
        context.runOnContext(v -> p.complete());
      } catch (Exception e) {
        context.runOnContext(v -> p.fail(e));
      }
      return null;
    }, true);
    return p.future();
  }

  interface BlockingAction {
    void run() throws Exception;
  }

  static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long at = position;
    while (buf.hasRemaining()) {
      at += ch.write(buf, at);
    }
  }

  static Future<Void> closeOn(Context context, FileChannel ch) {
    return context.executeBlocking(() -> {
      ch.close();
      return null;
    }, true);
  }

  // ------------------------------------------------------------------------------ driver

  static Future<Appender> open(String path, Vertx vertx, Context context, Path file) {
    switch (path) {
      case "hop":
        return Future.succeededFuture(new HopAppender(context));
      case "asyncfile":
        return vertx.fileSystem().open(file.toString(),
            new OpenOptions().setRead(true).setWrite(true).setCreate(true))
            .map(AsyncFileAppender::new);
      case "worker2":
      case "worker1":
      case "batch":
      case "dsync":
      case "dsyncbatch":
        boolean dsync = path.startsWith("dsync");
        return context.executeBlocking(() -> dsync
            ? FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.DSYNC)
            : FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE), true).map(ch -> switch (path) {
                  case "worker2" -> new Worker2Appender(context, ch);
                  case "worker1" -> new OneTaskAppender(context, ch, true);
                  case "dsync" -> new OneTaskAppender(context, ch, false);
                  case "batch" -> new BatchAppender(context, ch, true);
                  default -> new BatchAppender(context, ch, false);
                });
      default:
        throw new IllegalArgumentException("unknown path " + path);
    }
  }

  /** Latencies, appends, time and CPU accumulated over the slices of one path and group. */
  static final class Result {
    long[] latenciesNs = new long[1 << 16];
    int count;
    long elapsedNs;
    long cpuNs;
    /** Per slice: appends per second, to show the spread. */
    final List<Double> sliceRates = new ArrayList<>();

    void add(Loop loop, long elapsed, long cpu) {
      if (count + loop.count > latenciesNs.length) {
        latenciesNs = Arrays.copyOf(latenciesNs, Math.max(latenciesNs.length * 2,
            count + loop.count));
      }
      System.arraycopy(loop.latencies, 0, latenciesNs, count, loop.count);
      count += loop.count;
      elapsedNs += elapsed;
      cpuNs += cpu;
      sliceRates.add(loop.count / (elapsed / 1e9));
    }

    double perSecond() {
      return count / (elapsedNs / 1e9);
    }

    double percentileUs(double p) {
      long[] lat = Arrays.copyOf(latenciesNs, count);
      Arrays.sort(lat);
      if (lat.length == 0) {
        return Double.NaN;
      }
      int i = (int) Math.ceil(p / 100 * lat.length) - 1;
      return lat[Math.max(0, Math.min(lat.length - 1, i))] / 1000.0;
    }

    double cpuUsPerAppend() {
      return cpuNs / 1000.0 / count;
    }

    String sliceSpread() {
      double[] v = sliceRates.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      return String.format(Locale.ROOT, "%.0f..%.0f", v[v.length / 4], v[(3 * v.length) / 4]);
    }
  }

  /** Closed loop on the context: groups of N appends until the time is up. */
  static final class Loop {
    final Appender appender;
    final int group;
    final long deadline;
    final byte[] record = new byte[RECORD];
    final Promise<Void> done = Promise.promise();
    long[] latencies = new long[1 << 12];
    int count;
    int outstanding;
    long nextExpected;
    long issued;

    Loop(Appender appender, int group, long deadline) {
      this.appender = appender;
      this.group = group;
      this.deadline = deadline;
      Arrays.fill(record, (byte) 'r');
    }

    void issueGroup() {
      if (System.nanoTime() >= deadline) {
        done.tryComplete();
        return;
      }
      outstanding = group;
      for (int i = 0; i < group; i++) {
        long seq = issued++;
        long start = System.nanoTime();
        appender.append(record).onComplete(ar -> {
          long t = System.nanoTime() - start;
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          if (seq != nextExpected++) {
            done.tryFail(new IllegalStateException("append " + seq + " completed out of order"));
            return;
          }
          if (count == latencies.length) {
            latencies = Arrays.copyOf(latencies, count * 2);
          }
          latencies[count++] = t;
          if (--outstanding == 0) {
            issueGroup();
          }
        });
      }
    }
  }

  /** Runs one slice of a closed loop through an appender. */
  static void slice(Context context, Appender appender, int group, long nanos, Result into)
      throws Exception {
    long cpu0 = SliceBench.processCpuNs();
    long t0 = System.nanoTime();
    Loop loop = new Loop(appender, group, t0 + nanos);
    SliceBench.onContext(context, () -> {
      loop.issueGroup();
      return loop.done.future();
    });
    long elapsed = System.nanoTime() - t0;
    long cpu = SliceBench.processCpuNs() - cpu0;
    if (into != null) {
      into.add(loop, elapsed, cpu);
    }
  }

  public static void main(String[] args) throws Exception {
    SliceBench.Options o = SliceBench.Options.parse(args, "paths", List.of("asyncfile",
        "worker2", "worker1", "dsync", "batch", "dsyncbatch"));
    int sliceMs = o.sliceMs();
    int slices = o.slices();
    List<String> paths = o.ways();
    Path work = Files.createTempDirectory(o.dir(), "fsync-path-bench");
    Vertx vertx = Vertx.vertx();
    Context context = SliceBench.context(vertx);
    System.out.println("loadavg at the start: " + SliceBench.loadAverage());
    try {
      for (int group : o.groups()) {
        Map<String, Appender> appenders = new LinkedHashMap<>();
        Map<String, Result> results = new LinkedHashMap<>();
        for (String path : paths) {
          Path file = work.resolve(path + "-" + group + ".log");
          appenders.put(path, SliceBench.onContext(context, () -> open(path, vertx, context, file)));
          results.put(path, new Result());
        }
        String[] load = SliceBench.interleave(o, (path, counted) -> slice(context,
            appenders.get(path), group, o.sliceNanos(), counted ? results.get(path) : null));
        String loadBefore = load[0];
        String loadAfter = load[1];
        for (String path : paths) {
          SliceBench.onContext(context, appenders.get(path)::close);
        }
        System.out.println();
        System.out.println("group=" + group + ": " + slices + " interleaved slices of " + sliceMs
            + " ms per path; loadavg before \"" + loadBefore + "\" after \"" + loadAfter + "\"");
        System.out.println(String.format(Locale.ROOT, "%-11s %10s %16s %8s %8s %9s %12s",
            "path", "appends/s", "slice IQR /s", "p50 us", "p99 us", "p999 us", "cpu us/app"));
        for (String path : paths) {
          Result r = results.get(path);
          System.out.println(String.format(Locale.ROOT,
              "%-11s %10.0f %16s %8.0f %8.0f %9.0f %12.1f", path, r.perSecond(), r.sliceSpread(),
              r.percentileUs(50), r.percentileUs(99), r.percentileUs(99.9), r.cpuUsPerAppend()));
        }
        for (String path : paths) {
          Result r = results.get(path);
          System.out.println(String.format(Locale.ROOT,
              "RESULT path=%s group=%d appends_per_s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f"
                  + " cpu_us_per_append=%.1f n=%d loadavg_before=\"%s\" loadavg_after=\"%s\"",
              path, group, r.perSecond(), r.percentileUs(50), r.percentileUs(99),
              r.percentileUs(99.9), r.cpuUsPerAppend(), r.count, loadBefore, loadAfter));
        }
      }
    } finally {
      vertx.close().await(1, TimeUnit.MINUTES);
      SliceBench.deleteTree(work);
    }
  }
}
