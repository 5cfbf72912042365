/**
 * The public SPI of raft-vertx: the plug points a node is built from. {@link
 * dev.raftvertx.spi.Transport} carries Raft messages between nodes (fire-and-forget, never
 * blocking); {@link dev.raftvertx.spi.RaftStorage} makes the log, term and vote durable; {@link
 * dev.raftvertx.spi.SnapshotStore} keeps the snapshot that lets the log's prefix be deleted. All
 * are asynchronous and Future-returning, and are called on the node's event-loop context.
 */
package dev.raftvertx.spi;
