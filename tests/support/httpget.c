#include "httpget.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TK_PORT_LINE "HTTP endpoint on port "

static size_t tk_http_body(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    char **body = opaque;
    size_t n = size * nmemb, have = strlen(*body);
    char *b = realloc(*body, have + n + 1);

    if (!b)
        return 0;
    memcpy(b + have, ptr, n);
    b[have + n] = '\0';
    *body = b;
    return n;
}

int tk_http_get(int port, const char *path, char **body)
{
    CURL *c = curl_easy_init();
    char url[256];
    long status = 0;

    *body = strdup("");
    cr_assert_not_null(*body);
    cr_assert_not_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tk_http_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return (int)status;
}

double tk_sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *s = text; s && (s = strstr(s, series)); s += n)
        if ((s == text || s[-1] == '\n') && s[n] == ' ')
            return strtod(s + n + 1, NULL);
    return -1;
}

int tk_logged_http_port(const tk_proc *p, int timeout_ms)
{
    char line[4096];
    int port = 0;
    FILE *fp;

    cr_assert(tk_proc_wait_log(p, TK_PORT_LINE, timeout_ms), "no HTTP endpoint (log %s)", p->log);
    fp = fopen(p->log, "r");
    cr_assert_not_null(fp, "cannot open %s", p->log);
    while (fgets(line, sizeof(line), fp)) {
        char *s = strstr(line, TK_PORT_LINE);
        if (s)
            port = (int)strtol(s + strlen(TK_PORT_LINE), NULL, 10);
    }
    fclose(fp);
    cr_assert_gt(port, 0, "no port in %s", p->log);
    return port;
}
