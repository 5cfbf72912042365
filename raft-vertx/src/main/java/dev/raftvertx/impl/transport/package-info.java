/**
 * The built-in transports and their wire format. Not API: use them through
 * {@link dev.raftvertx.spi.Transport} and {@link dev.raftvertx.spi.TransportFaults}.
 *
 * <p>{@link dev.raftvertx.impl.transport.RaftWire} is the one place that maps a
 * {@link dev.raftvertx.core.Message} to and from JSON.
 * {@link dev.raftvertx.impl.transport.EventBusTransport} connects nodes sharing one Vert.x
 * instance without any copy; {@link dev.raftvertx.impl.transport.TcpBridgeTransport} connects
 * nodes over TCP in the frame format of the Vert.x TCP event-bus bridge, served from its own
 * bounded {@code NetServer}, optionally with TLS and mutual authentication. Both check each
 * inbound message's sender ({@link dev.raftvertx.impl.transport.AbstractTransport#allowSenders}).
 */
package dev.raftvertx.impl.transport;
