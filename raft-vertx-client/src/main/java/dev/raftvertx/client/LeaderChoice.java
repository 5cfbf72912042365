package dev.raftvertx.client;

import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * Which node to send to, from the nodes' status answers ({@code role}, {@code term},
 * {@code leaderId}): the node that leads in the highest term; else the leader another node names.
 *
 * @param leader the position of the answer of the node that leads in the highest term, or -1
 * @param hintedId the id of the leader some node named, when no answer came from a leader
 * @param hinting the position of the answer that named it, or -1
 */
record LeaderChoice(int leader, String hintedId, int hinting) {

  /**
   * @param statuses the answers, in the order of the endpoints asked; null for no answer
   * @return the choice
   */
  static LeaderChoice of(List<JsonObject> statuses) {
    int best = -1;
    long bestTerm = -1;
    String hinted = null;
    int hinting = -1;
    for (int i = 0; i < statuses.size(); i++) {
      JsonObject s = statuses.get(i);
      if (s == null) {
        continue;
      }
      long term = s.getLong("term", 0L);
      if ("leader".equals(s.getString("role")) && term > bestTerm) {
        best = i;
        bestTerm = term;
      } else if (s.getString("leaderId") != null) {
        hinted = s.getString("leaderId");
        hinting = i;
      }
    }
    return new LeaderChoice(best, best >= 0 ? null : hinted, best >= 0 ? -1 : hinting);
  }
}
