/**
 * The pure Raft consensus core: <b>advanced API</b>, like etcd's {@code RawNode}.
 *
 * <p>Nothing in this package does I/O, reads a clock, starts a thread or imports Vert.x (a test
 * enforces this). {@link dev.raftvertx.core.RaftCore} is a deterministic state machine: it takes
 * messages ({@link dev.raftvertx.core.RaftCore#step}), logical clock ticks
 * ({@link dev.raftvertx.core.RaftCore#tick}), proposals, read requests and storage completions
 * ({@link dev.raftvertx.core.RaftCore#persisted}), and hands back effects through
 * {@link dev.raftvertx.core.RaftCore#ready()}: messages to send, storage writes to make durable,
 * committed entries to apply and reads that may be answered.
 *
 * <p><b>Threading:</b> every type here is single-threaded; the caller confines each instance to
 * one thread (the Vert.x node uses its verticle's event-loop context).
 *
 * <p><b>Durability:</b> a message that promises durable state (a granted vote, an append
 * acknowledgement) is held inside the core until the driver reports, through
 * {@link dev.raftvertx.core.RaftCore#persisted(long)}, that the write it depends on is durable.
 */
package dev.raftvertx.core;
