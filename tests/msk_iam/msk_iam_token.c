/*
 * msk_iam_token: print the MSK IAM token tagstream builds for fixed
 * credentials, region, host and time (the test build's injected clock), and
 * its expiry in ms, one per line. For compare_signer.py.
 *
 *   msk_iam_token REGION HOST EPOCH_S USER_AGENT ACCESS_KEY_ID SECRET [SESSION_TOKEN]
 */
#include "ts_msk_iam.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    ts_aws_creds c = {0};
    ts_buf tok = TS_BUF_INIT;
    char err[512];
    int64_t exp = 0;

    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: msk_iam_token REGION HOST EPOCH_S USER_AGENT ACCESS_KEY_ID SECRET "
                        "[SESSION_TOKEN]\n");
        return 2;
    }
    c.access_key_id = argv[5];
    c.secret_access_key = argv[6];
    c.session_token = argc == 8 ? argv[7] : NULL;
    if (ts_msk_iam_token(&c, argv[1], argv[2], strtoll(argv[3], NULL, 10), argv[4], &tok, &exp, err,
                         sizeof(err))) {
        fprintf(stderr, "msk_iam_token: %s\n", err);
        return 1;
    }
    printf("%.*s\n%lld\n", (int)tok.len, tok.data, (long long)exp);
    ts_buf_free(&tok);
    return 0;
}
