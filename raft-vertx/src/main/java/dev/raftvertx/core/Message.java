package dev.raftvertx.core;

import java.util.List;
import java.util.Objects;

/**
 * A Raft RPC exchanged between nodes. Every message carries the sender's term (§5.1), the sender
 * and the receiver. Messages are fire-and-forget: the protocol retries, so a lost, duplicated or
 * reordered message is never an error.
 */
public sealed interface Message {

  /** @return the sender's current term (for a pre-vote request: the term it would campaign in) */
  long term();

  /** @return the sender's node id */
  String from();

  /** @return the receiver's node id */
  String to();

  /**
   * RequestVote (§5.2) or, with {@code preVote}, the pre-vote probe (thesis §9.6) that changes no
   * state on the receiver.
   *
   * @param lastLogIndex index of the candidate's last log entry (§5.4)
   * @param lastLogTerm term of the candidate's last log entry (§5.4)
   * @param preVote true for a pre-vote, which neither the sender nor the receiver persists
   * @param transfer true when a leadership transfer asked for this election (thesis §3.10); lets
   *     the request pass the guard against disruptive servers (§6)
   */
  record VoteRequest(long term, String from, String to, long lastLogIndex, long lastLogTerm,
      boolean preVote, boolean transfer) implements Message {
  }

  /**
   * The answer to a {@link VoteRequest}.
   *
   * @param voteGranted true if the receiver voted (or would vote, for a pre-vote) for the sender
   * @param preVote echoes the request's flag
   */
  record VoteResponse(long term, String from, String to, boolean voteGranted, boolean preVote)
      implements Message {
  }

  /**
   * AppendEntries (§5.3); with no entries it is a heartbeat.
   *
   * @param prevLogIndex index of the entry just before {@code entries}
   * @param prevLogTerm term of that entry
   * @param entries entries to store, in index order, starting at {@code prevLogIndex + 1}
   * @param leaderCommit the leader's commit index
   * @param round the leader's latest heartbeat round, echoed by the follower; ReadIndex counts
   *     acknowledgements of a round (thesis §6.4)
   */
  record AppendEntriesRequest(long term, String from, String to, long prevLogIndex, long prevLogTerm,
      List<LogEntry> entries, long leaderCommit, long round) implements Message {
    public AppendEntriesRequest {
      entries = List.copyOf(entries);
    }
  }

  /**
   * The answer to an {@link AppendEntriesRequest}.
   *
   * @param success true if the follower's log matched at prevLogIndex and now holds the entries
   * @param matchIndex on success, the last index this request verified (prevLogIndex + entries)
   * @param rejectedIndex on failure, the request's prevLogIndex (lets the leader spot stale replies)
   * @param conflictTerm on failure, the follower's term at prevLogIndex, or 0 if its log is shorter
   * @param conflictIndex on failure, the first index of {@code conflictTerm} in the follower's
   *     log, or its last index + 1 if the log is shorter (fast backtracking)
   * @param round the request's round, echoed
   */
  record AppendEntriesResponse(long term, String from, String to, boolean success, long matchIndex,
      long rejectedIndex, long conflictTerm, long conflictIndex, long round) implements Message {
  }

  /**
   * A proposal a follower forwards to its leader (client interaction, §8). Not a Raft RPC: it
   * changes no term.
   *
   * @param requestId the follower's id for the request, echoed in the response
   * @param type the entry type
   * @param session exactly-once session, or 0
   * @param sequence per-session sequence number, or 0
   * @param data the command
   */
  record ProposeRequest(long term, String from, String to, long requestId, EntryType type,
      long session, long sequence, byte[] data) implements Message {
  }

  /**
   * The leader's answer to a {@link ProposeRequest}: where the entry was appended, or why not.
   *
   * @param requestId echoed
   * @param status {@link ProposeResult.Status#APPENDED} or the refusal
   * @param index the entry's index when appended
   * @param entryTerm the entry's term when appended
   * @param leaderHint the leader the answering node knows of, or null
   */
  record ProposeResponse(long term, String from, String to, long requestId,
      ProposeResult.Status status, long index, long entryTerm, String leaderHint)
      implements Message {
  }

  /**
   * A follower asks the leader for a read index (thesis §6.4, reads served by followers).
   *
   * @param requestId the follower's read id, echoed
   */
  record ReadIndexRequest(long term, String from, String to, long requestId) implements Message {
  }

  /**
   * The leader's answer to a {@link ReadIndexRequest}.
   *
   * @param requestId echoed
   * @param ok true if a quorum confirmed the leader after the request arrived
   * @param readIndex the index the follower must apply before serving the read
   */
  record ReadIndexResponse(long term, String from, String to, long requestId, boolean ok,
      long readIndex) implements Message {
  }

  /**
   * The leader tells an up-to-date follower to start an election at once: the last step of a
   * leadership transfer (thesis §3.10). The election skips pre-vote and carries the transfer flag.
   */
  record TimeoutNow(long term, String from, String to) implements Message {
  }

  /**
   * The leader's latest snapshot (§7) for a follower whose next entry the leader's log no longer
   * holds. The core never puts the snapshot's data in a message: on the leader, this message asks
   * the driver to transfer the snapshot (in {@link SnapshotChunk}s) and to report the outcome with
   * {@link RaftCore#reportSnapshot}; on the follower, the driver steps it into the core only once
   * the snapshot with this index is durable, and the core then installs it (or ignores it if its
   * commit index already covers it) and answers with an {@link AppendEntriesResponse}.
   *
   * @param index the last log index the snapshot includes
   * @param snapshotTerm the term of that entry
   * @param configuration the configuration in force at {@code index}
   */
  record InstallSnapshot(long term, String from, String to, long index, long snapshotTerm,
      Configuration configuration) implements Message {
    public InstallSnapshot {
      Objects.requireNonNull(configuration, "configuration");
    }
  }

  /**
   * One chunk of a snapshot transfer (InstallSnapshot RPC of §7, split in chunks): exchanged by
   * the drivers, never stepped into a core. The first chunk (offset 0) carries the snapshot's
   * metadata; a follower that holds no transfer at the chunk's offset answers with the offset it
   * expects, so a transfer resumes after a lost chunk.
   *
   * @param index the last log index the snapshot includes
   * @param snapshotTerm the term of that entry
   * @param configuration the configuration at {@code index} (chunk at offset 0 only, else null)
   * @param sessions the encoded session table (chunk at offset 0 only, else null)
   * @param size the length of the snapshot's data
   * @param checksum the CRC32C of the snapshot's data
   * @param offset where {@code data} starts in the snapshot's data
   * @param data the chunk's bytes
   */
  record SnapshotChunk(long term, String from, String to, long index, long snapshotTerm,
      Configuration configuration, byte[] sessions, long size, int checksum, long offset,
      byte[] data) implements Message {
    public SnapshotChunk {
      Objects.requireNonNull(data, "data");
    }

    /** @return true if this chunk ends the data */
    public boolean last() {
      return offset + data.length == size;
    }
  }

  /**
   * The follower's answer to a {@link SnapshotChunk}.
   *
   * @param index the snapshot's index, echoed
   * @param ok true if the chunk was accepted
   * @param nextOffset the offset the follower expects next (after a refusal: where to resume)
   * @param done true once the whole snapshot is durable on the follower (or not needed there)
   */
  record SnapshotChunkResponse(long term, String from, String to, long index, boolean ok,
      long nextOffset, boolean done) implements Message {
  }
}
