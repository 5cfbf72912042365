package dev.raftvertx.core;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/** Pure quorum arithmetic for simple and joint configurations (§5.3, §6). */
final class Quorum {

  private Quorum() {
  }

  /** Result of counting votes. */
  enum VoteResult { WON, LOST, PENDING }

  /**
   * @param voters the voters of one configuration half
   * @param match each node's acknowledged index (missing = 0)
   * @return the largest index acknowledged by a majority of voters (an empty set commits anything)
   */
  static long majorityIndex(Set<String> voters, Map<String, Long> match) {
    if (voters.isEmpty()) {
      return Long.MAX_VALUE;
    }
    long[] values = new long[voters.size()];
    int i = 0;
    for (String v : voters) {
      values[i++] = match.getOrDefault(v, 0L);
    }
    Arrays.sort(values);
    // ascending: with n voters a majority is n/2+1, so the (n - (n/2+1))-th smallest is held by a majority
    return values[values.length - (values.length / 2 + 1)];
  }

  /**
   * @param configuration the configuration in force
   * @param match acknowledged index per node
   * @return the largest index acknowledged by a majority of each half of the configuration
   */
  static long committedIndex(Configuration configuration, Map<String, Long> match) {
    return Math.min(majorityIndex(configuration.voters(), match),
        majorityIndex(configuration.outgoingVoters(), match));
  }

  /**
   * @param voters voters of one half
   * @param votes granted (true) or refused (false) votes received so far
   * @return the half's result
   */
  static VoteResult voteResult(Set<String> voters, Map<String, Boolean> votes) {
    if (voters.isEmpty()) {
      return VoteResult.WON;
    }
    int granted = 0;
    int refused = 0;
    for (String v : voters) {
      Boolean vote = votes.get(v);
      if (vote == null) {
        continue;
      }
      if (vote) {
        granted++;
      } else {
        refused++;
      }
    }
    int majority = voters.size() / 2 + 1;
    if (granted >= majority) {
      return VoteResult.WON;
    }
    if (refused > voters.size() - majority) {
      return VoteResult.LOST;
    }
    return VoteResult.PENDING;
  }

  /** @return the joint result: won only if both halves won, lost if either lost */
  static VoteResult voteResult(Configuration configuration, Map<String, Boolean> votes) {
    VoteResult a = voteResult(configuration.voters(), votes);
    VoteResult b = voteResult(configuration.outgoingVoters(), votes);
    if (a == VoteResult.WON && b == VoteResult.WON) {
      return VoteResult.WON;
    }
    if (a == VoteResult.LOST || b == VoteResult.LOST) {
      return VoteResult.LOST;
    }
    return VoteResult.PENDING;
  }

  /**
   * @param configuration the configuration in force
   * @param acked nodes that acknowledged (the leader includes itself)
   * @return true if the acknowledging nodes form a quorum of each half
   */
  static boolean isQuorum(Configuration configuration, Set<String> acked) {
    return countIn(configuration.voters(), acked) && countIn(configuration.outgoingVoters(), acked);
  }

  private static boolean countIn(Set<String> voters, Set<String> acked) {
    if (voters.isEmpty()) {
      return true;
    }
    int n = 0;
    for (String v : voters) {
      if (acked.contains(v)) {
        n++;
      }
    }
    return n >= voters.size() / 2 + 1;
  }
}
