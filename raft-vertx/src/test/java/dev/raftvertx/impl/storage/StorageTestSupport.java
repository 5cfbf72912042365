package dev.raftvertx.impl.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Waiting for futures and watching for blocked event loops in the snapshot tests. */
final class StorageTestSupport {

  static final long TIMEOUT_SECONDS = 60;

  private StorageTestSupport() {
  }

  /**
   * @param f a future
   * @return its result, once it succeeds
   */
  static <T> T await(Future<T> f) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("unexpected failure: " + e.getCause(), e.getCause());
    }
  }

  /**
   * @param f a future expected to fail
   * @return its failure
   */
  static Throwable failure(Future<?> f) throws Exception {
    try {
      f.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertNotNull(e.getCause());
      return e.getCause();
    }
    return fail("expected a failure");
  }

  /**
   * Checks a condition every few milliseconds on a Vert.x timer until it holds.
   *
   * @param vertx the Vert.x instance whose timers to use
   * @param condition the condition, checked on an event loop
   * @return a future completed once it holds, failed after {@link #TIMEOUT_SECONDS}
   */
  static Future<Void> eventually(Vertx vertx, BooleanSupplier condition) {
    Promise<Void> done = Promise.promise();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
    poll(vertx, condition, deadline, done);
    return done.future();
  }

  private static void poll(Vertx vertx, BooleanSupplier condition, long deadline,
      Promise<Void> done) {
    vertx.setTimer(5, id -> {
      if (condition.getAsBoolean()) {
        done.complete();
      } else if (System.nanoTime() > deadline) {
        done.fail(new AssertionError("the condition did not hold in time"));
      } else {
        poll(vertx, condition, deadline, done);
      }
    });
  }

  /** Collects Vert.x blocked-thread warnings between {@link #start()} and {@link #stop()}. */
  static final class BlockedThreadWatch {
    private final Logger logger = Logger.getLogger("io.vertx.core.impl.BlockedThreadChecker");
    private final List<String> warnings = Collections.synchronizedList(new ArrayList<>());
    private final Handler handler = new Handler() {
      @Override
      public void publish(LogRecord record) {
        warnings.add(record.getMessage());
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    };

    void start() {
      logger.addHandler(handler);
    }

    /** Stops watching and fails if an event loop was blocked meanwhile. */
    void stop() {
      logger.removeHandler(handler);
      assertEquals(List.of(), warnings, "an event loop was blocked");
    }
  }
}
