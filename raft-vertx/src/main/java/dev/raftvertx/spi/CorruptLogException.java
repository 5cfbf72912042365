package dev.raftvertx.spi;

/**
 * The durable state of a node is damaged in a way that cannot be explained by a crash during a
 * write (a torn tail), so the node cannot know which of its acknowledged entries or votes it still
 * has. Such a node must not take part in the cluster again with this data: serving could break
 * Raft's safety. The message names what is corrupt (file, offset, index) and how to recover:
 * remove the member, wipe its data directory and add it back under a new node id. Restoring the
 * directory from a backup is no way out: the backup lacks the votes and acknowledgements made
 * since it was taken.
 */
public class CorruptLogException extends StorageException {

  private final String dataDir;

  /**
   * @param problem what is corrupt, with the file, the byte offset and the log index where known
   * @param dataDir the node's data directory, named in the recovery advice
   */
  public CorruptLogException(String problem, String dataDir) {
    super("the log is corrupt: " + problem + "; this node must not serve: it may have lost"
        + " entries it acknowledged or votes it cast. To recover, remove it from the cluster"
        + " (removeMember on the leader), wipe " + dataDir + ", and add it back as a new member"
        + " under a new node id (start it with join, then addVoter on the leader)");
    this.dataDir = dataDir;
  }

  /** @return the data directory holding the corrupt state */
  public String dataDir() {
    return dataDir;
  }
}
