/**
 * The public SPI of raft-vertx: the interfaces a Raft node is built from and that applications
 * may implement or swap (a transport, storage).
 *
 * <p>Types here are stable public API. Implementations shipped with the library live in
 * {@code dev.raftvertx.impl.*} packages, which are not API.
 */
package dev.raftvertx.spi;
