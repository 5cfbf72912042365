package dev.raftvertx.core;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.ByteArrayInputStream;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A cluster configuration as it lives in the log (§6). Immutable; sets are sorted so that every
 * node encodes and iterates a configuration identically.
 *
 * <p>A configuration is <em>joint</em> (C_old,new) when {@link #outgoingVoters()} is not empty:
 * then elections and commitment need a majority of {@link #voters()} (C_new) and a majority of
 * {@link #outgoingVoters()} (C_old). Learners receive the log but neither vote nor count toward
 * commitment.
 *
 * @param voters the voting members (C_new while joint)
 * @param outgoingVoters the voting members of C_old while joint, else empty
 * @param learners non-voting members
 * @param addresses transport address of each member, opaque to the core (may be empty)
 */
public record Configuration(SortedSet<String> voters, SortedSet<String> outgoingVoters,
    SortedSet<String> learners, SortedMap<String, String> addresses) {

  private static final int FORMAT = 1;

  public Configuration {
    voters = Collections.unmodifiableSortedSet(new TreeSet<>(voters));
    outgoingVoters = Collections.unmodifiableSortedSet(new TreeSet<>(outgoingVoters));
    learners = Collections.unmodifiableSortedSet(new TreeSet<>(learners));
    addresses = Collections.unmodifiableSortedMap(new TreeMap<>(addresses));
    for (String l : learners) {
      if (voters.contains(l) || outgoingVoters.contains(l)) {
        throw new IllegalArgumentException("member " + l + " is both voter and learner");
      }
    }
  }

  /**
   * @param voters the voting members
   * @return a simple (non-joint) configuration without learners or addresses
   */
  public static Configuration of(Set<String> voters) {
    return new Configuration(new TreeSet<>(voters), new TreeSet<>(), new TreeSet<>(), new TreeMap<>());
  }

  /**
   * @param voters the voting members and their addresses
   * @return a simple configuration of those voters with their addresses
   */
  public static Configuration of(Map<String, String> voters) {
    return new Configuration(new TreeSet<>(voters.keySet()), new TreeSet<>(), new TreeSet<>(),
        new TreeMap<>(voters));
  }

  /** @return true while C_old,new is in force */
  public boolean isJoint() {
    return !outgoingVoters.isEmpty();
  }

  /**
   * @param id a node id
   * @return true if the node votes in either half of the configuration
   */
  public boolean isVoter(String id) {
    return voters.contains(id) || outgoingVoters.contains(id);
  }

  /**
   * @param id a node id
   * @return true if the node is a voter or a learner
   */
  public boolean isMember(String id) {
    return isVoter(id) || learners.contains(id);
  }

  /** @return every member (voters of both halves and learners), sorted */
  public SortedSet<String> members() {
    TreeSet<String> all = new TreeSet<>(voters);
    all.addAll(outgoingVoters);
    all.addAll(learners);
    return all;
  }

  /** @return the configuration in its log-entry encoding */
  public byte[] encode() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(FORMAT);
      writeSet(out, voters);
      writeSet(out, outgoingVoters);
      writeSet(out, learners);
      out.writeInt(addresses.size());
      for (Map.Entry<String, String> e : addresses.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeUTF(e.getValue());
      }
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * @param data bytes made by {@link #encode()}
   * @return the configuration
   * @throws IllegalArgumentException if the bytes are not a configuration
   */
  public static Configuration decode(byte[] data) {
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
      int format = in.readUnsignedByte();
      if (format != FORMAT) {
        throw new IllegalArgumentException("unknown configuration format " + format);
      }
      SortedSet<String> voters = readSet(in);
      SortedSet<String> outgoing = readSet(in);
      SortedSet<String> learners = readSet(in);
      int n = in.readInt();
      if (n < 0 || n > 100_000) {
        throw new IllegalArgumentException("bad address count " + n);
      }
      SortedMap<String, String> addresses = new TreeMap<>();
      for (int i = 0; i < n; i++) {
        addresses.put(in.readUTF(), in.readUTF());
      }
      if (in.available() != 0) {
        throw new IllegalArgumentException("trailing bytes after configuration");
      }
      return new Configuration(voters, outgoing, learners, addresses);
    } catch (IOException e) {
      throw new IllegalArgumentException("malformed configuration: " + e, e);
    }
  }

  private static void writeSet(DataOutputStream out, Set<String> set) throws IOException {
    out.writeInt(set.size());
    for (String s : set) {
      out.writeUTF(s);
    }
  }

  private static SortedSet<String> readSet(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > 100_000) {
      throw new IllegalArgumentException("bad member count " + n);
    }
    SortedSet<String> set = new TreeSet<>();
    for (int i = 0; i < n; i++) {
      set.add(in.readUTF());
    }
    return set;
  }
}
