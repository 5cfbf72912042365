/**
 * The public API of raft-vertx: deploy a {@link dev.raftvertx.RaftNode} with
 * {@link dev.raftvertx.RaftOptions} and your {@link dev.raftvertx.StateMachine}, then propose
 * commands and read through Futures.
 *
 * <p>Advanced users can drive the pure consensus core in {@code dev.raftvertx.core} directly;
 * storage and transport plug in through {@code dev.raftvertx.spi}. Everything under
 * {@code dev.raftvertx.impl} is internal.
 */
package dev.raftvertx;
