package dev.raftvertx.kv.bench;

import dev.raftvertx.client.KvClient;
import dev.raftvertx.client.KvClientException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The soak's writers: C clients, each with one write in flight, putting values into a bounded key
 * space through a {@link KvClient}. Key {@code k} belongs to client {@code k mod C} alone, and
 * every write of a key carries the next value of that key's counter, so the writes of one key
 * are issued one after another with increasing values. Raft orders a key's writes as they were
 * issued, so at the end every replica must hold, for every key, the counter of a write that was
 * sent and not refused, at least as high as the highest acknowledged one; or a lower one only if
 * that write's outcome is unknown (its effect may come at any time after it was sent, as in a
 * linearizability check).
 *
 * <p>Every write is counted as acknowledged (200), failed (known not to be applied) or unknown
 * (no answer, or an answer that says the outcome is unknown); the counters of the failed and
 * unknown writes are kept per key.
 */
final class SoakLoad {

  private final Vertx vertx;
  private final KvClient client;
  private final int clients;
  private final int keys;
  private final String padding;
  private final long seed;
  private final AtomicLongArray attempted;
  private final AtomicLongArray acked;
  private final Map<Integer, Set<Long>> failedWrites = new ConcurrentHashMap<>();
  private final Map<Integer, Set<Long>> unknownWrites = new ConcurrentHashMap<>();
  private final AtomicLong ackCount = new AtomicLong();
  private final AtomicLong failCount = new AtomicLong();
  private final AtomicLong unknownCount = new AtomicLong();
  private final AtomicLong lastAckNanos = new AtomicLong();
  private final AtomicLong maxGapNanos = new AtomicLong();
  private final AtomicInteger running = new AtomicInteger();
  private volatile boolean stopping;
  private volatile Throwable lastFailure;
  private volatile Throwable lastUnknown;
  private final Promise<Void> done = Promise.promise();
  private long startNanos;

  /**
   * @param vertx the Vert.x instance the client runs on
   * @param client the client
   * @param clients writes in flight (one per client)
   * @param keys the size of the key space
   * @param payload bytes of each value
   * @param seed the seed of the clients' key choices
   */
  SoakLoad(Vertx vertx, KvClient client, int clients, int keys, int payload, long seed) {
    if (keys < clients) {
      throw new IllegalArgumentException("need at least as many keys (" + keys + ") as clients ("
          + clients + ")");
    }
    this.vertx = vertx;
    this.client = client;
    this.clients = clients;
    this.keys = keys;
    this.padding = "x".repeat(Math.max(0, payload - 12));
    this.seed = seed;
    this.attempted = new AtomicLongArray(keys);
    this.acked = new AtomicLongArray(keys);
  }

  /** @return the key of index k */
  static String key(int k) {
    return String.format("soak-%05d", k);
  }

  /**
   * @param value a value read back
   * @return the counter it carries (positive), or -1 if it carries none
   */
  static long counterOf(String value) {
    int bar = value.indexOf('|');
    try {
      long v = Long.parseLong(bar < 0 ? value : value.substring(0, bar));
      return v > 0 ? v : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Starts every client. */
  void start() {
    startNanos = System.nanoTime();
    lastAckNanos.set(startNanos);
    running.set(clients);
    for (int c = 0; c < clients; c++) {
      Random random = new Random(seed * 1_000_003L + c);
      int client = c;
      vertx.runOnContext(v -> next(client, random));
    }
  }

  /**
   * Lets every client finish the write it has in flight, then stop.
   *
   * @return completes once no write is in flight
   */
  Future<Void> stop() {
    stopping = true;
    return done.future();
  }

  private void next(int c, Random random) {
    if (stopping) {
      if (running.decrementAndGet() == 0) {
        long now = System.nanoTime();
        maxGapNanos.accumulateAndGet(now - lastAckNanos.get(), Math::max);
        done.tryComplete();
      }
      return;
    }
    int owned = (keys - c + clients - 1) / clients; // keys c, c + C, c + 2C, ... below keys
    int k = c + clients * random.nextInt(owned);
    long value = attempted.get(k) + 1;
    attempted.set(k, value);
    Future<Long> put;
    try {
      put = client.put(key(k), Buffer.buffer(value + "|" + padding));
    } catch (RuntimeException e) {
      put = Future.failedFuture(e);
    }
    put.onComplete(ar -> {
      if (ar.succeeded()) {
        acked.accumulateAndGet(k, value, Math::max);
        ackCount.incrementAndGet();
        long now = System.nanoTime();
        long previous = lastAckNanos.getAndAccumulate(now, Math::max);
        maxGapNanos.accumulateAndGet(now - previous, Math::max);
        vertx.runOnContext(v -> next(c, random));
      } else {
        Throwable e = ar.cause();
        if (e instanceof KvClientException ke && ke.knownNotApplied()) {
          failCount.incrementAndGet();
          failedWrites.computeIfAbsent(k, x -> ConcurrentHashMap.newKeySet()).add(value);
          lastFailure = e;
        } else {
          unknownCount.incrementAndGet();
          unknownWrites.computeIfAbsent(k, x -> ConcurrentHashMap.newKeySet()).add(value);
          lastUnknown = e;
        }
        vertx.setTimer(20, id -> next(c, random)); // no busy loop while there is no leader
      }
    });
  }

  /** @return the size of the key space */
  int keys() {
    return keys;
  }

  /** @return the highest counter acknowledged for key k, 0 if none */
  long acked(int k) {
    return acked.get(k);
  }

  /** @return the highest counter sent for key k, 0 if none */
  long attempted(int k) {
    return attempted.get(k);
  }

  /** @return true if the write of counter v to key k was refused (known not to be applied) */
  boolean failed(int k, long v) {
    return failedWrites.getOrDefault(k, Set.of()).contains(v);
  }

  /** @return true if the outcome of the write of counter v to key k is unknown */
  boolean unknown(int k, long v) {
    return unknownWrites.getOrDefault(k, Set.of()).contains(v);
  }

  /** @return writes acknowledged so far */
  long ackCount() {
    return ackCount.get();
  }

  /** @return writes known not to be applied so far */
  long failCount() {
    return failCount.get();
  }

  /** @return writes whose outcome is unknown so far */
  long unknownCount() {
    return unknownCount.get();
  }

  /** @return the longest time without an acknowledged write (from the start) so far, in ms */
  long maxStallMillis() {
    long sinceLast = System.nanoTime() - lastAckNanos.get();
    return Math.max(maxGapNanos.get(), stopping ? 0 : sinceLast) / 1_000_000;
  }

  /** @return the last failure known not to be applied, or null */
  Throwable lastFailure() {
    return lastFailure;
  }

  /** @return the last failure of unknown outcome, or null */
  Throwable lastUnknown() {
    return lastUnknown;
  }

  /** @return seconds since the start */
  double elapsedSeconds() {
    return (System.nanoTime() - startNanos) / 1e9;
  }
}
