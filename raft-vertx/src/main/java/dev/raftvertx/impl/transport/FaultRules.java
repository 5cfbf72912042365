package dev.raftvertx.impl.transport;

import dev.raftvertx.spi.TransportFaults;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The fault rules of one transport. Writers (tests, an operator) synchronize and publish
 * immutable snapshots; readers (the transport, on any thread) only read volatile fields.
 */
final class FaultRules implements TransportFaults {

  private record Link(String from, String to) {
  }

  private volatile Set<String> partitioned = Set.of();
  private volatile Set<Link> cuts = Set.of();
  private volatile double dropFraction;
  private volatile long delayMillis;
  private volatile double duplicateFraction;
  private volatile long delayJitterMillis;

  @Override
  public synchronized void partition(String... nodeIds) {
    Set<String> next = new HashSet<>(partitioned);
    next.addAll(Arrays.asList(nodeIds));
    partitioned = Set.copyOf(next);
  }

  @Override
  public synchronized void heal(String... nodeIds) {
    Set<String> next = new HashSet<>(partitioned);
    next.removeAll(Arrays.asList(nodeIds));
    partitioned = Set.copyOf(next);
  }

  @Override
  public synchronized void cut(String fromNodeId, String toNodeId) {
    Set<Link> next = new HashSet<>(cuts);
    next.add(new Link(fromNodeId, toNodeId));
    cuts = Set.copyOf(next);
  }

  @Override
  public synchronized void uncut(String fromNodeId, String toNodeId) {
    Set<Link> next = new HashSet<>(cuts);
    next.remove(new Link(fromNodeId, toNodeId));
    cuts = Set.copyOf(next);
  }

  @Override
  public void dropFraction(double fraction) {
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new IllegalArgumentException("drop fraction must be within [0, 1]: " + fraction);
    }
    dropFraction = fraction;
  }

  @Override
  public void delayMillis(long millis) {
    if (millis < 0) {
      throw new IllegalArgumentException("delay must not be negative: " + millis);
    }
    delayMillis = millis;
  }

  @Override
  public void duplicateFraction(double fraction) {
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new IllegalArgumentException("duplicate fraction must be within [0, 1]: " + fraction);
    }
    duplicateFraction = fraction;
  }

  @Override
  public void delayJitterMillis(long maxMillis) {
    if (maxMillis < 0) {
      throw new IllegalArgumentException("delay jitter must not be negative: " + maxMillis);
    }
    delayJitterMillis = maxMillis;
  }

  @Override
  public synchronized void clearFaults() {
    partitioned = Set.of();
    cuts = Set.of();
    dropFraction = 0;
    delayMillis = 0;
    duplicateFraction = 0;
    delayJitterMillis = 0;
  }

  @Override
  public Set<String> partitionedNodes() {
    return partitioned;
  }

  /** @return true if a partition or cut stops messages from {@code from} to {@code to} */
  boolean blocks(String from, String to) {
    Set<String> p = partitioned;
    if (!p.isEmpty() && (p.contains(from) || p.contains(to))) {
      return true;
    }
    Set<Link> c = cuts;
    return !c.isEmpty() && c.contains(new Link(from, to));
  }

  /** @return true if the next outgoing message is to be dropped at random */
  boolean dropsAtRandom() {
    double f = dropFraction;
    return f > 0 && (f >= 1 || ThreadLocalRandom.current().nextDouble() < f);
  }

  /** @return true if the next outgoing message is to be sent twice */
  boolean duplicatesAtRandom() {
    double f = duplicateFraction;
    return f > 0 && (f >= 1 || ThreadLocalRandom.current().nextDouble() < f);
  }

  /**
   * @return the delay of the next outgoing message in milliseconds, 0 for none: the fixed delay
   *     plus, with a jitter, a random time in [0, jitter] drawn for this message
   */
  long delayMillis() {
    long jitter = delayJitterMillis;
    long delay = delayMillis;
    return jitter == 0 ? delay : delay + ThreadLocalRandom.current().nextLong(jitter + 1);
  }
}
