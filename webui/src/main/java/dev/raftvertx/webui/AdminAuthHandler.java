package dev.raftvertx.webui;

import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Guards admin routes with a shared bearer token: a request passes only with the header
 * {@code Authorization: Bearer <token>}. Otherwise it is answered at once, in JSON:
 * <ul>
 *   <li>401 {@code {"error": ..., "code": "UNAUTHORIZED"}} with a {@code WWW-Authenticate: Bearer}
 *       challenge when the header is missing, malformed or carries another token;</li>
 *   <li>403 {@code {"error": ..., "code": "ADMIN_DISABLED"}} when no token is configured, so that
 *       admin actions are off rather than open.</li>
 * </ul>
 * Tokens are compared in constant time. Put it before the admin routes' handlers (and before a
 * {@code BodyHandler}, so that unauthenticated bodies are not read):
 * {@code router.post("/admin/*").handler(AdminAuthHandler.create(token))}.
 */
public final class AdminAuthHandler implements Handler<RoutingContext> {

  private static final String PREFIX = "Bearer ";
  private final byte[] token;

  private AdminAuthHandler(String token) {
    this.token = token == null || token.isBlank() ? null : token.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @param token the admin token, or null (or blank) to refuse every admin request with 403
   * @return the handler
   */
  public static AdminAuthHandler create(String token) {
    return new AdminAuthHandler(token);
  }

  /** @return a new random token: 32 hex digits (128 bits) from a {@link SecureRandom} */
  public static String generateToken() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (token == null) {
      answer(ctx, 403, "admin actions are disabled: no admin token is configured",
          "ADMIN_DISABLED", null);
      return;
    }
    String header = ctx.request().getHeader("Authorization");
    if (header == null || header.isBlank()) {
      answer(ctx, 401, "missing admin token: send the header 'Authorization: Bearer <token>'",
          "UNAUTHORIZED", "Bearer realm=\"raft-admin\"");
      return;
    }
    if (!header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
      answer(ctx, 401, "the Authorization header must be 'Bearer <token>'", "UNAUTHORIZED",
          "Bearer realm=\"raft-admin\", error=\"invalid_request\"");
      return;
    }
    byte[] given = header.substring(PREFIX.length()).trim().getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(given, token)) {
      answer(ctx, 401, "invalid admin token", "UNAUTHORIZED",
          "Bearer realm=\"raft-admin\", error=\"invalid_token\"");
      return;
    }
    ctx.next();
  }

  private static void answer(RoutingContext ctx, int status, String message, String code,
      String challenge) {
    if (challenge != null) {
      ctx.response().putHeader("WWW-Authenticate", challenge);
    }
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store")
        .end(new JsonObject().put("error", message).put("code", code).encode());
  }
}
