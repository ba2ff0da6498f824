/*
 * The broker side of MSK IAM for the local test cluster: a SASL/OAUTHBEARER
 * server callback handler that accepts a token only if it is an MSK IAM
 * token (a base64url SigV4-presigned URL for kafka-cluster:Connect) that
 *
 *   - is signed, by the AWS Signature Version 4 rules, with the secret key
 *     of an access key id listed in the credentials file (and carries that
 *     key's session token, when the file gives one),
 *   - is for the expected host, region and service,
 *   - has not expired (X-Amz-Date + X-Amz-Expires) and is not from the
 *     future (5 minutes of skew, as AWS allows).
 *
 * A refused token's reason goes back to the client in the SASL error
 * status and into the broker's log. The principal is the name the
 * credentials file gives the key (User:NAME), so the cluster's ACLs apply.
 *
 * JAAS options: credentials (the file: one "ACCESS_KEY_ID SECRET TOKEN|-
 * PRINCIPAL" per line, # comments), host, region. Compiled by
 * infra/local/kafka with the JDK that runs the broker, against its jars.
 */

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;

import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public class MskIamCallbackHandler implements AuthenticateCallbackHandler {
    private static final Logger log = LoggerFactory.getLogger(MskIamCallbackHandler.class);
    private static final long SKEW_MS = 5 * 60 * 1000;
    private static final DateTimeFormatter AMZ_DATE =
        DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private String credentialsFile;
    private String host;
    private String region;

    /** A refusal: its message is the SASL error status the client sees. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String why) {
            super(why);
        }
    }

    private static final class Key {
        final String secret, token, principal;

        Key(String secret, String token, String principal) {
            this.secret = secret;
            this.token = token;
            this.principal = principal;
        }
    }

    @Override
    public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> jaas) {
        Map<String, ?> o = jaas.get(0).getOptions();
        credentialsFile = (String) o.get("credentials");
        host = (String) o.get("host");
        region = (String) o.get("region");
        if (credentialsFile == null || host == null || region == null)
            throw new IllegalArgumentException("MskIamCallbackHandler needs the JAAS options credentials, host and region");
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback cb : callbacks) {
            if (cb instanceof OAuthBearerValidatorCallback) {
                OAuthBearerValidatorCallback v = (OAuthBearerValidatorCallback) cb;
                try {
                    v.token(validate(v.tokenValue(), System.currentTimeMillis()));
                } catch (Refused e) {
                    log.warn("MSK IAM token refused: {}", e.getMessage());
                    v.error("invalid_token: " + e.getMessage(), null, null);
                }
            } else if (cb instanceof OAuthBearerExtensionsValidatorCallback) {
                OAuthBearerExtensionsValidatorCallback e = (OAuthBearerExtensionsValidatorCallback) cb;
                e.inputExtensions().map().keySet().forEach(e::valid);
            } else {
                throw new UnsupportedCallbackException(cb);
            }
        }
    }

    @Override
    public void close() {
    }

    private Map<String, Key> keys() throws Refused {
        Map<String, Key> keys = new HashMap<>();
        try {
            for (String line : Files.readAllLines(Paths.get(credentialsFile), StandardCharsets.UTF_8)) {
                String t = line.trim();
                if (t.isEmpty() || t.startsWith("#"))
                    continue;
                String[] f = t.split("\\s+");
                if (f.length != 4)
                    continue;
                keys.put(f[0], new Key(f[1], f[2].equals("-") ? null : f[2], f[3]));
            }
        } catch (IOException e) {
            throw new Refused("cannot read the credentials file");
        }
        return keys;
    }

    OAuthBearerToken validate(String tokenValue, long nowMs) throws Refused {
        String url;
        try {
            url = new String(Base64.getUrlDecoder().decode(tokenValue), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new Refused("not base64url");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new Refused("not a URL");
        }
        if (!"https".equals(uri.getScheme()) || uri.getRawQuery() == null)
            throw new Refused("not a presigned https URL");
        if (!host.equals(uri.getHost()) || uri.getPort() != -1)
            throw new Refused("signed for host " + uri.getHost() + ", not " + host);

        Map<String, String> q = new TreeMap<>();
        for (String pair : uri.getRawQuery().split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0)
                throw new Refused("malformed query");
            String k = URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8);
            String val = URLDecoder.decode(pair.substring(eq + 1).replace("+", "%2B"), StandardCharsets.UTF_8);
            if (q.put(k, val) != null)
                throw new Refused("parameter " + k + " repeated");
        }
        require(q, "Action", "kafka-cluster:Connect");
        require(q, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
        require(q, "X-Amz-SignedHeaders", "host");
        String[] cred = get(q, "X-Amz-Credential").split("/");
        if (cred.length != 5 || !cred[4].equals("aws4_request") || !cred[3].equals("kafka-cluster"))
            throw new Refused("malformed credential scope");
        if (!cred[2].equals(region))
            throw new Refused("signed for region " + cred[2] + ", not " + region);
        Key key = keys().get(cred[0]);
        if (key == null)
            throw new Refused("unknown access key id");

        long signedMs, expires;
        try {
            signedMs = Instant.from(AMZ_DATE.parse(get(q, "X-Amz-Date"))).toEpochMilli();
            expires = Long.parseLong(get(q, "X-Amz-Expires"));
        } catch (DateTimeParseException | NumberFormatException e) {
            throw new Refused("malformed X-Amz-Date or X-Amz-Expires");
        }
        if (!get(q, "X-Amz-Date").startsWith(cred[1]))
            throw new Refused("credential date differs from X-Amz-Date");
        if (expires < 1 || expires > 900)
            throw new Refused("X-Amz-Expires " + expires + " outside 1..900");
        if (nowMs > signedMs + expires * 1000)
            throw new Refused("token expired at " + Instant.ofEpochMilli(signedMs + expires * 1000));
        if (signedMs > nowMs + SKEW_MS)
            throw new Refused("token signed in the future");
        String token = q.get("X-Amz-Security-Token");
        if (key.token != null && !key.token.equals(token))
            throw new Refused("session token does not belong to the access key");

        // The canonical request, as the signer built it: every parameter but
        // the signature and the User-Agent (appended after signing), sorted.
        StringBuilder cq = new StringBuilder();
        for (Map.Entry<String, String> e : q.entrySet()) {
            if (e.getKey().equals("X-Amz-Signature") || e.getKey().equals("User-Agent"))
                continue;
            if (cq.length() > 0)
                cq.append('&');
            cq.append(encode(e.getKey())).append('=').append(encode(e.getValue()));
        }
        String path = uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        String canonical = "GET\n" + path + "\n" + cq + "\nhost:" + host + "\n\nhost\n" + hex(sha256(""));
        String scope = cred[1] + "/" + cred[2] + "/" + cred[3] + "/aws4_request";
        String toSign = "AWS4-HMAC-SHA256\n" + get(q, "X-Amz-Date") + "\n" + scope + "\n" + hex(sha256(canonical));
        byte[] k = hmac(("AWS4" + key.secret).getBytes(StandardCharsets.UTF_8), cred[1]);
        k = hmac(k, cred[2]);
        k = hmac(k, cred[3]);
        k = hmac(k, "aws4_request");
        byte[] want = hex(hmac(k, toSign)).getBytes(StandardCharsets.US_ASCII);
        byte[] got = get(q, "X-Amz-Signature").getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(want, got))
            throw new Refused("signature does not match (wrong secret key or altered token)");

        final String principal = key.principal;
        final long lifetime = signedMs + expires * 1000;
        final long start = signedMs;
        log.info("MSK IAM token accepted for {} (key {}), expires {}", principal, cred[0], Instant.ofEpochMilli(lifetime));
        return new OAuthBearerToken() {
            @Override
            public String value() {
                return tokenValue;
            }

            @Override
            public Set<String> scope() {
                return Collections.emptySet();
            }

            @Override
            public long lifetimeMs() {
                return lifetime;
            }

            @Override
            public String principalName() {
                return principal;
            }

            @Override
            public Long startTimeMs() {
                return start;
            }
        };
    }

    private static String get(Map<String, String> q, String k) throws Refused {
        String v = q.get(k);
        if (v == null)
            throw new Refused("no " + k);
        return v;
    }

    private static void require(Map<String, String> q, String k, String want) throws Refused {
        if (!want.equals(get(q, k)))
            throw new Refused(k + " is not " + want);
    }

    private static String encode(String s) {
        StringBuilder b = new StringBuilder();
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
                || c == '.' || c == '~')
                b.append((char) c);
            else
                b.append(String.format("%%%02X", c & 0xff));
        }
        return b.toString();
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String msg) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            return m.doFinal(msg.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] d) {
        StringBuilder b = new StringBuilder();
        for (byte x : d)
            b.append(String.format("%02x", x & 0xff));
        return b.toString();
    }
}
