#include "ts_aws_sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TS_SIGV4_ALGORITHM    "AWS4-HMAC-SHA256"
#define TS_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

ts_err ts_aws_uri_encode(ts_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            ts_buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            ts_buf_append(out, esc, 3);
        }
    }
    return ts_buf_status(out);
}

ts_err ts_aws_base64url(ts_buf *out, const void *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = s;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        char q[4] = {tab[p[i] >> 2], tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
                     tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)], tab[p[i + 2] & 63]};
        ts_buf_append(out, q, 4);
    }
    if (n - i == 1) {
        char q[2] = {tab[p[i] >> 2], tab[(p[i] & 3) << 4]};
        ts_buf_append(out, q, 2);
    } else if (n - i == 2) {
        char q[3] = {tab[p[i] >> 2], tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
                     tab[(p[i + 1] & 15) << 2]};
        ts_buf_append(out, q, 3);
    }
    return ts_buf_status(out);
}

static void ts_sigv4_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

void ts_aws_sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    EVP_Digest(p, n, d, &dlen, EVP_sha256(), NULL);
    ts_sigv4_hex(d, 32, hex);
}

void ts_aws_amz_date(int64_t time_s, char out[17])
{
    time_t t = (time_t)time_s;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* out = HMAC-SHA256(key, msg); 32 bytes. */
static int ts_sigv4_hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int len = 0;

    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len) !=
               NULL &&
           len == 32;
}

/* One query parameter, already encoded, for sorting the canonical query. */
typedef struct ts_sigv4_qp {
    char *kv; /* "key=value", encoded */
    size_t klen;
} ts_sigv4_qp;

static int ts_sigv4_qp_cmp(const void *a, const void *b)
{
    const ts_sigv4_qp *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->kv, y->kv, n);

    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return strcmp(x->kv + x->klen, y->kv + y->klen);
}

ts_err ts_aws_sigv4_presign(const ts_aws_presign *r, ts_buf *url, char *errstr, size_t errstr_size)
{
    ts_aws_param auth[6];
    ts_sigv4_qp *qp = NULL;
    ts_buf query = TS_BUF_INIT, canon = TS_BUF_INIT, cred = TS_BUF_INIT, sts = TS_BUF_INIT;
    ts_buf key0 = TS_BUF_INIT;
    unsigned char k[32];
    char amz_date[17], date[9], expires[16], hash[65], sig[65];
    size_t nauth = 0, nqp = 0;
    ts_err err = TS_OK;

    if (!r->method || !r->host || !*r->host || !r->path || !r->service || !r->region ||
        !*r->region || !r->access_key_id || !*r->access_key_id || !r->secret_access_key ||
        !*r->secret_access_key)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "cannot sign: host, region, access key id and secret key are required");
    if (r->expires_s < 1 || r->expires_s > 604800)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "cannot sign: expiry %d s is outside 1..604800", r->expires_s);

    ts_aws_amz_date(r->time_s, amz_date);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    snprintf(expires, sizeof(expires), "%d", r->expires_s);
    ts_buf_printf(&cred, "%s/%s/%s/%s/aws4_request", r->access_key_id, date, r->region, r->service);
    if ((err = ts_buf_status(&cred)))
        goto out;
    auth[nauth++] = (ts_aws_param){"X-Amz-Algorithm", TS_SIGV4_ALGORITHM};
    auth[nauth++] = (ts_aws_param){"X-Amz-Credential", cred.data};
    auth[nauth++] = (ts_aws_param){"X-Amz-Date", amz_date};
    auth[nauth++] = (ts_aws_param){"X-Amz-Expires", expires};
    auth[nauth++] = (ts_aws_param){"X-Amz-SignedHeaders", "host"};
    if (r->session_token && *r->session_token)
        auth[nauth++] = (ts_aws_param){"X-Amz-Security-Token", r->session_token};

    /* The query in URL order: the request's parameters, then the auth ones. */
    nqp = r->nparams + nauth;
    qp = calloc(nqp, sizeof(*qp));
    if (!qp) {
        err = TS_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < nqp; i++) {
        const ts_aws_param *p = i < r->nparams ? &r->params[i] : &auth[i - r->nparams];
        ts_buf one = TS_BUF_INIT;

        ts_aws_uri_encode(&one, p->key, strlen(p->key));
        qp[i].klen = one.len;
        ts_buf_putc(&one, '=');
        ts_aws_uri_encode(&one, p->value, strlen(p->value));
        if ((err = ts_buf_status(&one))) {
            ts_buf_free(&one);
            goto out;
        }
        qp[i].kv = ts_buf_take(&one, NULL);
        if (i)
            ts_buf_putc(&query, '&');
        ts_buf_puts(&query, qp[i].kv);
    }

    /* Canonical request: the query sorted by key, then value. */
    qsort(qp, nqp, sizeof(*qp), ts_sigv4_qp_cmp);
    ts_buf_printf(&canon, "%s\n%s\n", r->method, r->path);
    for (size_t i = 0; i < nqp; i++) {
        if (i)
            ts_buf_putc(&canon, '&');
        ts_buf_puts(&canon, qp[i].kv);
    }
    ts_buf_printf(&canon, "\nhost:%s\n\nhost\n%s", r->host,
                  r->unsigned_payload ? "UNSIGNED-PAYLOAD" : TS_SIGV4_EMPTY_SHA256);
    if ((err = ts_buf_status(&canon)) || (err = ts_buf_status(&query)))
        goto out;
    ts_aws_sha256_hex(canon.data, canon.len, hash);

    ts_buf_printf(&sts, TS_SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
                  r->region, r->service, hash);
    ts_buf_printf(&key0, "AWS4%s", r->secret_access_key);
    if ((err = ts_buf_status(&sts)) || (err = ts_buf_status(&key0)))
        goto out;
    if (!ts_sigv4_hmac(key0.data, key0.len, date, k) ||
        !ts_sigv4_hmac(k, sizeof(k), r->region, k) || !ts_sigv4_hmac(k, sizeof(k), r->service, k) ||
        !ts_sigv4_hmac(k, sizeof(k), "aws4_request", k) ||
        !ts_sigv4_hmac(k, sizeof(k), sts.data, k)) {
        err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot sign: HMAC-SHA256 failed");
        goto out;
    }
    ts_sigv4_hex(k, 32, sig);

    ts_buf_printf(url, "https://%s%s?%s&X-Amz-Signature=%s", r->host, r->path, query.data, sig);
    err = ts_buf_status(url);
out:
    if (err == TS_ERR_NOMEM)
        ts_seterr(err, errstr, errstr_size, "cannot sign: out of memory");
    OPENSSL_cleanse(k, sizeof(k));
    if (key0.data)
        OPENSSL_cleanse(key0.data, key0.len);
    ts_buf_free(&key0);
    ts_buf_free(&sts);
    ts_buf_free(&canon);
    ts_buf_free(&query);
    ts_buf_free(&cred);
    for (size_t i = 0; qp && i < nqp; i++)
        free(qp[i].kv);
    free(qp);
    return err;
}
