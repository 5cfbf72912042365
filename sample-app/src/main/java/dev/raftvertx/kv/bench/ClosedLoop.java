package dev.raftvertx.kv.bench;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * A closed-loop load generator: C slots each keep exactly one operation in flight and issue the
 * next one when the answer arrives. Latency runs from issue to answer, in microseconds, into an
 * HdrHistogram; a failed operation counts as an error and its slot retries 10 ms later. A run is a
 * warm-up, then a measuring window whose start and end also read the CPU time of the benchmark's
 * processes.
 */
public final class ClosedLoop {

  /** Longest latency recorded (larger values are clamped): 2 minutes. */
  static final long MAX_MICROS = TimeUnit.MINUTES.toMicros(2);

  /** One operation of a slot. */
  @FunctionalInterface
  public interface Operation {
    /**
     * @param slot the slot issuing it, 0 to C - 1
     * @return a future completed with the answer, failed if the operation failed
     */
    Future<?> issue(int slot);
  }

  /**
   * What one measuring window saw.
   *
   * @param histogram latencies in microseconds of the operations answered in the window
   * @param errors failed operations in the window
   * @param seconds the window's length
   * @param cpuMillis CPU time of the benchmark's processes in the window, or -1 if unknown
   * @param loadAverage1 the 1-minute load average at the start of the window
   */
  public record Measurement(Histogram histogram, long errors, double seconds, long cpuMillis,
      String loadAverage1) {
  }

  private final Vertx vertx;
  private final Operation operation;
  private final int clients;
  private final Recorder recorder = new Recorder(MAX_MICROS, 3);
  private final AtomicLong errors = new AtomicLong();
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile boolean running;
  private volatile boolean measuring;
  private volatile Throwable lastError;

  /**
   * @param vertx used for the retry timers
   * @param operation the operation
   * @param clients the number of slots (operations in flight)
   */
  public ClosedLoop(Vertx vertx, Operation operation, int clients) {
    if (clients < 1) {
      throw new IllegalArgumentException("clients must be >= 1");
    }
    this.vertx = vertx;
    this.operation = operation;
    this.clients = clients;
  }

  /**
   * Runs the load: warm-up, then the measuring window, then waits (up to 30 s) for the operations
   * still in flight. Blocks the calling thread, which must not be an event loop.
   *
   * @param warmupSeconds warm-up before measuring
   * @param seconds the measuring window
   * @param cpu the processes whose CPU time to account for
   * @return what the window saw
   * @throws InterruptedException if interrupted
   */
  public Measurement run(double warmupSeconds, double seconds, CpuProbe cpu)
      throws InterruptedException {
    running = true;
    for (int i = 0; i < clients; i++) {
      issue(i);
    }
    sleepSeconds(warmupSeconds);
    String load = CpuProbe.loadAverage1();
    recorder.reset();
    errors.set(0);
    long cpu0 = cpu.cpuMillis();
    measuring = true;
    long t0 = System.nanoTime();
    sleepSeconds(seconds);
    measuring = false;
    long t1 = System.nanoTime();
    long cpu1 = cpu.cpuMillis();
    Histogram h = recorder.getIntervalHistogram();
    long errorCount = errors.get();
    running = false;
    long drainUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (inFlight.get() > 0 && System.nanoTime() < drainUntil) {
      Thread.sleep(5);
    }
    return new Measurement(h, errorCount, (t1 - t0) / 1e9,
        cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0, load);
  }

  /** @return the last failure seen, or null */
  public Throwable lastError() {
    return lastError;
  }

  /** @return operations still in flight */
  public int inFlight() {
    return inFlight.get();
  }

  private static void sleepSeconds(double s) throws InterruptedException {
    long ms = Math.round(s * 1000);
    if (ms > 0) {
      Thread.sleep(ms);
    }
  }

  private void issue(int slot) {
    if (!running) {
      return;
    }
    inFlight.incrementAndGet();
    long start = System.nanoTime();
    Future<?> f;
    try {
      f = operation.issue(slot);
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    boolean[] returned = {false};
    f.onComplete(ar -> {
      long micros = (System.nanoTime() - start) / 1000;
      inFlight.decrementAndGet();
      if (ar.succeeded()) {
        if (measuring) {
          recorder.recordValue(Math.min(micros, MAX_MICROS));
        }
        if (returned[0]) {
          issue(slot);
        } else {
          // Answered before issue() returned (a local read on the node's own context): issue
          // the next one as a new task, so that the slot neither recurses nor keeps the event
          // loop from its other work (ticks, I/O).
          Context c = Vertx.currentContext();
          if (c != null) {
            c.runOnContext(v -> issue(slot));
          } else {
            vertx.runOnContext(v -> issue(slot));
          }
        }
      } else {
        lastError = ar.cause();
        if (measuring) {
          errors.incrementAndGet();
        }
        if (running) {
          vertx.setTimer(10, id -> issue(slot));
        }
      }
    });
    returned[0] = true;
  }
}
