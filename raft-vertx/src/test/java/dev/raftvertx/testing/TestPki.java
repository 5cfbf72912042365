package dev.raftvertx.testing;

import dev.raftvertx.TlsOptions;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority made at test time (BouncyCastle, EC P-256 keys, as the README's openssl
 * commands make them): it issues node certificates whose subject CN is the node id, for both
 * server and client authentication, and hands them out as PEM text or files.
 */
public final class TestPki {

  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  private final X500Name name;
  private final KeyPair keys;
  private final X509Certificate certificate;

  /** A certificate and its private key, in PEM. */
  public record Issued(String certPem, String keyPem) {
  }

  private TestPki(X500Name name, KeyPair keys, X509Certificate certificate) {
    this.name = name;
    this.keys = keys;
    this.certificate = certificate;
  }

  /**
   * @param commonName the CA's CN
   * @return a new self-signed CA
   */
  public static TestPki create(String commonName) {
    X500Name name = new X500Name("CN=" + commonName);
    KeyPair keys = newKeyPair();
    X509v3CertificateBuilder b = builder(name, name, keys);
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      b.addExtension(Extension.keyUsage, true,
          new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return new TestPki(name, keys, sign(b, keys.getPrivate()));
  }

  /** @return the CA's certificate in PEM */
  public String caPem() {
    return pem("CERTIFICATE", encoded(certificate));
  }

  /**
   * @param subject the subject's distinguished name, e.g. {@code CN=n1}
   * @return a certificate for it signed by this CA, with a new key
   */
  public Issued issue(String subject) {
    KeyPair nodeKeys = newKeyPair();
    X509v3CertificateBuilder b = builder(name, new X500Name(subject), nodeKeys);
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
          new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    X509Certificate cert = sign(b, keys.getPrivate());
    return new Issued(pem("CERTIFICATE", encoded(cert)),
        pem("PRIVATE KEY", nodeKeys.getPrivate().getEncoded()));
  }

  /**
   * @param nodeId a node id
   * @return TLS options with PEM values: a new certificate naming the node, its key and this CA
   */
  public TlsOptions tls(String nodeId) {
    Issued issued = issue("CN=" + nodeId);
    return new TlsOptions().setCertValue(issued.certPem()).setKeyValue(issued.keyPem())
        .setCaValue(caPem());
  }

  /**
   * Writes a new certificate naming the node, its key and this CA's certificate as PEM files.
   *
   * @param dir where ({@code <nodeId>.crt}, {@code <nodeId>.key}, {@code ca.crt})
   * @param nodeId a node id
   * @return TLS options with the files' paths
   */
  public TlsOptions writeFiles(Path dir, String nodeId) {
    Issued issued = issue("CN=" + nodeId);
    try {
      Files.createDirectories(dir);
      Path cert = Files.writeString(dir.resolve(nodeId + ".crt"), issued.certPem());
      Path key = Files.writeString(dir.resolve(nodeId + ".key"), issued.keyPem());
      Path ca = Files.writeString(dir.resolve("ca.crt"), caPem());
      return new TlsOptions().setCertPath(cert.toString()).setKeyPath(key.toString())
          .setCaPath(ca.toString());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject,
      KeyPair subjectKeys) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()),
        Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))),
        subject, subjectKeys.getPublic());
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey issuerKey) {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] encoded(X509Certificate cert) {
    try {
      return cert.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String pem(String type, byte[] der) {
    String base64 = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + base64 + "\n-----END " + type + "-----\n";
  }
}
