/**
 * The public SPI of raft-vertx: the contracts an application may implement or plug in to change
 * how a node works, starting with {@link dev.raftvertx.spi.RaftStorage}, the durable state of one
 * node.
 *
 * <p>Types in this package are stable public API. Their implementations that ship with the library
 * live in {@code dev.raftvertx.impl.*}.
 */
package dev.raftvertx.spi;
