package dev.raftvertx.core;

/**
 * A linearizable read that may be answered once the state machine has applied up to
 * {@code readIndex} (ReadIndex, thesis §6.4).
 *
 * @param readId the id the driver gave {@link RaftCore#readIndex(long)}
 * @param readIndex the commit index the read must observe
 */
public record ReadState(long readId, long readIndex) {
}
