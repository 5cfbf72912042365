package dev.raftvertx;

import dev.raftvertx.impl.RaftNodeImpl;
import dev.raftvertx.spi.RaftStorage;
import dev.raftvertx.spi.Transport;
import dev.raftvertx.spi.TransportFaults;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.List;

/**
 * One Raft node, deployed as a verticle in your Vert.x application.
 *
 * <p><b>Lifecycle:</b> {@link #deploy} recovers the node's log from its data directory, starts its
 * transport and its logical clock, and completes once the node runs. One node id can be deployed
 * once per Vert.x instance, and the data directory is locked against other processes.
 * {@link #close()} fails pending requests with {@link dev.raftvertx.core.RaftError#STOPPED} (or
 * INDETERMINATE when already appended) and closes the log cleanly.
 *
 * <p><b>Threading:</b> methods may be called from any thread; the node runs on its own event-loop
 * context (one actor) and completes Futures there. Your {@link StateMachine} is called on that
 * context only.
 *
 * <p><b>Errors:</b> Futures fail with {@link RaftException}; its
 * {@link RaftException#knownNotApplied()} says whether the command is certainly not applied. A
 * proposal on a follower is forwarded to the leader once and never retried by the node.
 */
public interface RaftNode {

  /**
   * Deploys a node with the file storage in {@code options.getDataDir()} and the transport chosen
   * in the options.
   *
   * @param vertx the Vert.x instance
   * @param options the node's options (validated)
   * @param stateMachine your state machine
   * @return a future completed with the running node, or failed with the reason it cannot start
   *     (bad options, a locked or corrupt data directory, a port in use)
   */
  static Future<RaftNode> deploy(Vertx vertx, RaftOptions options, StateMachine stateMachine) {
    return RaftNodeImpl.deploy(vertx, options, stateMachine, null, null);
  }

  /**
   * Deploys a node with your own storage and transport (tests, or other plugins).
   *
   * @param vertx the Vert.x instance
   * @param options the node's options
   * @param stateMachine your state machine
   * @param storage the storage, or null for the file storage
   * @param transport the transport, or null for the one chosen in the options
   * @return a future completed with the running node
   */
  static Future<RaftNode> deploy(Vertx vertx, RaftOptions options, StateMachine stateMachine,
      RaftStorage storage, Transport transport) {
    return RaftNodeImpl.deploy(vertx, options, stateMachine, storage, transport);
  }

  /** @return this node's id */
  String id();

  /**
   * Proposes a command without a session: if the outcome is unknown (a timeout, a lost leader)
   * the command may or may not have been applied, and the node does not retry it.
   *
   * @param command the command
   * @return a future completed with the commit index and the state machine's result once the
   *     command is committed and applied, or failed with a {@link RaftException}
   */
  Future<Committed> propose(Buffer command);

  /**
   * Opens an exactly-once session (thesis §6.3). Use its id with increasing sequence numbers.
   *
   * @return a future completed with the session id, or failed with a {@link RaftException}
   */
  Future<Long> openSession();

  /**
   * Proposes a command in a session: a retry with the same session and sequence number is applied
   * at most once and answered with the first result.
   *
   * @param session a session id from {@link #openSession()}
   * @param sequence the client's sequence number for this command; grows per session
   * @param command the command
   * @return a future completed with the commit index and result, or failed with a
   *     {@link RaftException} ({@code SESSION_EXPIRED} if the session is unknown or expired)
   */
  Future<Committed> propose(long session, long sequence, Buffer command);

  /**
   * A linearizable read (ReadIndex): sees every command committed before it was called.
   *
   * @param query passed to {@link StateMachine#query}
   * @return a future completed with the answer, or failed with a {@link RaftException}
   */
  Future<Buffer> read(Buffer query);

  /**
   * A local read of this node's applied state, possibly stale.
   *
   * @param query passed to {@link StateMachine#query}
   * @return a future completed with the answer
   */
  Future<Buffer> readLocal(Buffer query);

  /**
   * Adds a non-voting member that receives the log (§6). Call on the leader.
   *
   * @param id the new member's node id
   * @param address its transport address ("host:port" of its TCP bridge)
   * @return a future completed once the change is committed, or failed with a
   *     {@link RaftException} (NOT_LEADER, CHANGE_IN_PROGRESS, INVALID_CHANGE, TIMEOUT ...)
   */
  Future<Void> addLearner(String id, String address);

  /**
   * Makes a learner a voter once it has caught up: its match index is within
   * {@link RaftOptions#getLearnerCatchUpMaxLag()} entries of the commit index. The change passes
   * through a joint configuration. Call on the leader.
   *
   * @param id the learner
   * @return a future completed once the node is a voter in a committed, non-joint configuration
   */
  Future<Void> promote(String id);

  /**
   * Adds a voter: {@link #addLearner}, then {@link #promote} once it caught up.
   *
   * @param id the new member's node id
   * @param address its transport address
   * @return a future completed once the node is a voter
   */
  Future<Void> addVoter(String id, String address);

  /**
   * Removes a member (a voter through a joint configuration). Removing the leader makes it step
   * down once the new configuration is committed. Call on the leader.
   *
   * @param id the member
   * @return a future completed once a configuration without the member is committed
   */
  Future<Void> removeMember(String id);

  /**
   * Transfers leadership to another voter (thesis §3.10): proposals are refused as TRANSFERRING
   * meanwhile; the transfer aborts after an election timeout.
   *
   * @param id the voter to hand leadership to
   * @return a future completed once that node leads, or failed (TIMEOUT if it did not take over)
   */
  Future<Void> transferLeadership(String id);

  /** @return a future completed with this node's status */
  Future<NodeStatus> status();

  /**
   * The last entries of this node's log, for status pages: cheap (it copies at most
   * {@code maxEntries} positions and {@code maxDataBytes} bytes of each payload).
   *
   * @param maxEntries most entries to return (the newest ones), at least 0
   * @param maxDataBytes most payload bytes to copy per entry, at least 0
   * @return a future completed with the entries in index order (committed or not; compare with
   *     {@link NodeStatus#commitIndex()}), or failed with a {@link RaftException} once stopped
   */
  Future<List<LogEntryInfo>> logTail(int maxEntries, int maxDataBytes);

  /**
   * This node's counters and gauges, readable from any thread at no cost to the node (metrics,
   * status pages).
   *
   * @return the node's live statistics
   */
  NodeStats stats();

  /**
   * Sets the handler of this node's events (role, leader, term changes; commits at most once a
   * tick). Called on the node's context.
   *
   * @param handler the handler, or null to remove it
   * @return a reference to this, so the API can be used fluently
   */
  RaftNode eventHandler(Handler<RaftEvent> handler);

  /**
   * The transport's fault hook: drop, delay or cut messages between chosen nodes (tests, and the
   * web UI's demo partition button).
   *
   * @return the hook, or null if the transport has none
   */
  TransportFaults faults();

  /**
   * Stops the node: pending requests fail, the transport and the log close.
   *
   * @return a future completed once stopped
   */
  Future<Void> close();
}
