package dev.raftvertx;

import io.vertx.core.json.JsonObject;
import java.util.Objects;

/**
 * TLS with mutual authentication between the nodes of a cluster (the TCP transport), in the Vert.x
 * style: fluent setters, a JSON constructor and {@link #toJson()}. Every node has its own
 * certificate and private key, signed by the cluster's certificate authority (CA); a node accepts
 * a connection, and dials a peer, only if the other end's certificate chains up to that CA.
 *
 * <p><b>Identity.</b> A node's id is the Common Name (CN) of its certificate's subject, e.g.
 * {@code CN=n1}; subject alternative names are not used. A node accepts a message only if its
 * {@code from} is the id its connection authenticated as, and a node dialling peer {@code n2}
 * closes the connection unless the certificate it is shown names {@code n2}. Addresses and host
 * names play no part, so a node may move to another address without a new certificate.
 *
 * <p>Each of the certificate, the key and the CA is given either as a path to a PEM file or as PEM
 * text ({@code ...Value}), not both. The key is a PKCS#8 ({@code BEGIN PRIVATE KEY}) or PKCS#1
 * RSA ({@code BEGIN RSA PRIVATE KEY}) PEM; the certificate file may hold the chain after the
 * node's own certificate. The files are read when the node starts.
 */
public class TlsOptions {

  private String certPath;
  private String certValue;
  private String keyPath;
  private String keyValue;
  private String caPath;
  private String caValue;

  /** Empty options: set a certificate, its key and the CA. */
  public TlsOptions() {
  }

  /**
   * Copy constructor.
   *
   * @param other the options to copy
   */
  public TlsOptions(TlsOptions other) {
    this(other.toJson());
  }

  /**
   * Creates options from JSON (the field names of {@link #toJson()}); absent fields stay unset.
   *
   * @param json the JSON
   */
  public TlsOptions(JsonObject json) {
    certPath = json.getString("certPath");
    certValue = json.getString("certValue");
    keyPath = json.getString("keyPath");
    keyValue = json.getString("keyValue");
    caPath = json.getString("caPath");
    caValue = json.getString("caValue");
  }

  /** @return the options as JSON; unset fields are left out */
  public JsonObject toJson() {
    JsonObject json = new JsonObject();
    putIfSet(json, "certPath", certPath);
    putIfSet(json, "certValue", certValue);
    putIfSet(json, "keyPath", keyPath);
    putIfSet(json, "keyValue", keyValue);
    putIfSet(json, "caPath", caPath);
    putIfSet(json, "caValue", caValue);
    return json;
  }

  private static void putIfSet(JsonObject json, String name, String value) {
    if (value != null) {
      json.put(name, value);
    }
  }

  /**
   * Checks that the certificate, the key and the CA are each given exactly once. Whether the files
   * exist and hold what they should is checked when the node starts.
   *
   * @throws IllegalArgumentException naming the first missing or doubly given option
   */
  public void validate() {
    exactlyOne(certPath, certValue, "the node's certificate (tls certPath or certValue)");
    exactlyOne(keyPath, keyValue, "the node's private key (tls keyPath or keyValue)");
    exactlyOne(caPath, caValue, "the cluster's CA certificate (tls caPath or caValue)");
  }

  private static void exactlyOne(String path, String value, String what) {
    boolean hasPath = path != null && !path.isBlank();
    boolean hasValue = value != null && !value.isBlank();
    if (hasPath == hasValue) {
      throw new IllegalArgumentException(hasPath ? what + " is given both as a path and as a value"
          : what + " is required");
    }
  }

  /** @return the path of the node's PEM certificate, or null */
  public String getCertPath() {
    return certPath;
  }

  /**
   * @param certPath path of the node's PEM certificate (its CN is the node id), optionally
   *     followed by intermediate CA certificates
   * @return a reference to this, so the API can be used fluently
   */
  public TlsOptions setCertPath(String certPath) {
    this.certPath = certPath;
    return this;
  }

  /** @return the node's PEM certificate as text, or null */
  public String getCertValue() {
    return certValue;
  }

  /**
   * @param certValue the node's PEM certificate as text, instead of {@link #setCertPath}
   * @return a reference to this, so the API can be used fluently
   */
  public TlsOptions setCertValue(String certValue) {
    this.certValue = certValue;
    return this;
  }

  /** @return the path of the node's PEM private key, or null */
  public String getKeyPath() {
    return keyPath;
  }

  /**
   * @param keyPath path of the node's PEM private key (unencrypted)
   * @return a reference to this, so the API can be used fluently
   */
  public TlsOptions setKeyPath(String keyPath) {
    this.keyPath = keyPath;
    return this;
  }

  /** @return the node's PEM private key as text, or null */
  public String getKeyValue() {
    return keyValue;
  }

  /**
   * @param keyValue the node's PEM private key as text, instead of {@link #setKeyPath}
   * @return a reference to this, so the API can be used fluently
   */
  public TlsOptions setKeyValue(String keyValue) {
    this.keyValue = keyValue;
    return this;
  }

  /** @return the path of the cluster CA's PEM certificate, or null */
  public String getCaPath() {
    return caPath;
  }

  /**
   * @param caPath path of the PEM certificate of the cluster's CA: the only authority whose
   *     certificates are accepted (the JVM's default trust store is not used)
   * @return a reference to this, so the API can be used fluently
   */
  public TlsOptions setCaPath(String caPath) {
    this.caPath = caPath;
    return this;
  }

  /** @return the cluster CA's PEM certificate as text, or null */
  public String getCaValue() {
    return caValue;
  }

  /**
   * @param caValue the cluster CA's PEM certificate as text, instead of {@link #setCaPath}
   * @return a reference to this, so the API can be used fluently
   */
  public TlsOptions setCaValue(String caValue) {
    this.caValue = caValue;
    return this;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TlsOptions other && toJson().equals(other.toJson());
  }

  @Override
  public int hashCode() {
    return Objects.hash(certPath, certValue, keyPath, keyValue, caPath, caValue);
  }

  /** @return the options without the private key's text */
  @Override
  public String toString() {
    JsonObject json = toJson();
    if (keyValue != null) {
      json.put("keyValue", "(hidden)");
    }
    return "TlsOptions" + json.encode();
  }
}
