/**
 * The public SPI of raft-vertx: the plug points a node is built from. {@link
 * dev.raftvertx.spi.Transport} carries Raft messages between nodes (fire-and-forget, never
 * blocking); {@link dev.raftvertx.spi.RaftStorage} makes the log, term and vote durable. Both are
 * asynchronous and Future-returning, and are called on the node's event-loop context.
 */
package dev.raftvertx.spi;
