package dev.raftvertx.core;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * Applies committed entries to the user's state machine, deduplicates commands through the
 * replicated {@link SessionTable}, completes the proposals this node appended (tracked by index
 * and term), and runs reads once the state machine has caught up with their read index. Pure and
 * deterministic: the Vert.x node and the simulator both drive it.
 *
 * <p>Not thread-safe; confine to the thread that drives the {@link RaftCore}.
 */
public final class Applier {

  /** The user's state machine, reduced to bytes. */
  @FunctionalInterface
  public interface CommandHandler {
    /**
     * Applies a committed command. Must be deterministic: every node applies the same commands in
     * the same order and must reach the same state.
     *
     * @param index the command's log index
     * @param command the command
     * @return the result handed to the proposer (never null)
     */
    byte[] apply(long index, byte[] command);
  }

  /** Receives the outcome of one proposal. */
  public interface Completion {
    /**
     * @param index where the command was applied (for a deduplicated retry: where the first
     *     attempt was applied)
     * @param result the state machine's result (for a session open: the session id, 8 bytes)
     */
    void succeeded(long index, byte[] result);

    /** @param error why the proposal did not succeed */
    void failed(RaftError error);
  }

  private record Pending(long term, Completion completion) {
  }

  private record WaitingRead(long index, long order, Runnable action) {
  }

  /** Outcome of a recently applied entry, for proposals whose (index, term) arrives late. */
  private record Outcome(long term, long index, byte[] result, RaftError error) {
  }

  /** How many recent outcomes are kept for late {@link #track} calls. */
  private static final int RECENT_OUTCOMES = 4096;

  private final LinkedHashMap<Long, Outcome> recent = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, Outcome> eldest) {
      return size() > RECENT_OUTCOMES;
    }
  };

  private final CommandHandler handler;
  private final SessionTable sessions;
  private final Map<Long, Pending> pending = new HashMap<>();
  private final PriorityQueue<WaitingRead> waitingReads = new PriorityQueue<>(
      (a, b) -> a.index != b.index ? Long.compare(a.index, b.index) : Long.compare(a.order, b.order));
  private long readOrder;
  private long appliedIndex;

  /**
   * @param handler the state machine
   * @param sessionTimeoutMillis a session idle longer than this (in leader-stamped time) expires
   * @param maxSessions most sessions kept; the least recently active one is evicted beyond it
   * @param responseWindow results kept per session (commands a client may have in flight)
   */
  public Applier(CommandHandler handler, long sessionTimeoutMillis, int maxSessions,
      int responseWindow) {
    this.handler = Objects.requireNonNull(handler);
    this.sessions = new SessionTable(sessionTimeoutMillis, maxSessions, responseWindow);
  }

  /** @return the index of the last applied entry */
  public long appliedIndex() {
    return appliedIndex;
  }

  /** @return the number of open sessions */
  public int sessionCount() {
    return sessions.size();
  }

  /**
   * Tracks a proposal appended at (index, term).
   *
   * @param index where {@link RaftCore#propose} appended it
   * @param term its term
   * @param completion told the outcome
   */
  public void track(long index, long term, Completion completion) {
    if (index > appliedIndex) {
      pending.put(index, new Pending(term, completion));
      return;
    }
    // Already applied (a forwarded proposal's answer can arrive after the entry itself).
    Outcome o = recent.get(index);
    if (o == null) {
      completion.failed(RaftError.INDETERMINATE);
    } else {
      complete(new Pending(term, completion), o.index(), o.term(), o.result(), o.error());
    }
  }

  private static void complete(Pending p, long index, long term, byte[] result, RaftError error) {
    if (p.term != term) {
      p.completion.failed(RaftError.DROPPED);
    } else if (error != null) {
      p.completion.failed(error);
    } else {
      p.completion.succeeded(index, result);
    }
  }

  /** @return the number of proposals awaiting their outcome */
  public int pendingCount() {
    return pending.size();
  }

  /**
   * Fails every tracked proposal; used when leadership is lost or the node stops, when their
   * outcome becomes unknown to this node.
   *
   * @param error usually {@link RaftError#INDETERMINATE}
   */
  public void failAll(RaftError error) {
    List<Pending> all = List.copyOf(pending.values());
    pending.clear();
    for (Pending p : all) {
      p.completion.failed(error);
    }
  }

  /**
   * Runs action once the applied index reaches index (at once if it already has).
   *
   * @param index the read index
   * @param action the read
   */
  public void whenApplied(long index, Runnable action) {
    if (appliedIndex >= index) {
      action.run();
    } else {
      waitingReads.add(new WaitingRead(index, readOrder++, action));
    }
  }

  /** Drops the waiting reads without running them (the node stops). */
  public void clearWaitingReads() {
    waitingReads.clear();
  }

  /**
   * Applies committed entries in order.
   *
   * @param committed entries from {@link Ready#committed()}
   */
  public void apply(List<LogEntry> committed) {
    for (LogEntry e : committed) {
      if (e.index() != appliedIndex + 1) {
        throw new IllegalStateException("apply out of order: " + e.index() + " after " + appliedIndex);
      }
      sessions.advanceClock(e.timestamp());
      byte[] result = null;
      RaftError error = null;
      long resultIndex = e.index();
      switch (e.type()) {
        case COMMAND -> {
          if (e.session() == 0) {
            result = handler.apply(e.index(), e.data());
          } else {
            SessionTable.Check check = sessions.check(e.session(), e.sequence());
            if (check instanceof SessionTable.Apply a) {
              result = handler.apply(e.index(), e.data());
              sessions.record(a.session(), e.sequence(), e.index(), result);
            } else if (check instanceof SessionTable.Duplicate d) {
              result = d.applied().result();
              resultIndex = d.applied().index();
            } else {
              error = ((SessionTable.Refuse) check).error();
            }
          }
        }
        case SESSION_OPEN -> {
          sessions.open(e.index());
          result = ByteBuffer.allocate(8).putLong(e.index()).array();
        }
        default -> result = new byte[0];
      }
      appliedIndex = e.index();
      if (e.type() == EntryType.COMMAND || e.type() == EntryType.SESSION_OPEN) {
        recent.put(e.index(), new Outcome(e.term(), resultIndex, result, error));
      }
      Pending p = pending.remove(e.index());
      if (p != null) {
        complete(p, resultIndex, e.term(), result, error);
      }
      while (!waitingReads.isEmpty() && waitingReads.peek().index <= appliedIndex) {
        waitingReads.poll().action.run();
      }
    }
  }

  /**
   * @param result the result of a {@link EntryType#SESSION_OPEN} proposal
   * @return the session id
   */
  public static long sessionId(byte[] result) {
    return ByteBuffer.wrap(result).getLong();
  }

  /** @return the number of reads waiting for the state machine to catch up */
  public int waitingReadCount() {
    return waitingReads.size();
  }
}
