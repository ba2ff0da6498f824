/*
 * Hashtags found in text by each platform's rules.
 */
#include "ts_hashtag.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ts_test.h"
#include <string.h>

typedef struct tcase {
    ts_hashtag_rules rules;
    const char *text;
    const char *want; /* tags joined with '|' */
} tcase;


static const tcase cases[] = {
    {TS_HASHTAG_X, "#kafka", "kafka"},
    {TS_HASHTAG_X, "streaming with #kafka today", "kafka"},
    {TS_HASHTAG_X, "#Kafka,#AWS.", "Kafka|AWS"},
    {TS_HASHTAG_X, "#tag1 #tag2 #tag1", "tag1|tag2|tag1"},
    {TS_HASHTAG_X, "no#tag inside a word", ""},
    {TS_HASHTAG_X, "it&#39;s not a tag", ""},
    {TS_HASHTAG_X, "#123 is all digits, #2024_ too, #_ too", ""},
    {TS_HASHTAG_X, "#123abc and #_a", "123abc|_a"},
    {TS_HASHTAG_X,
     "#\xc3\xbc"
     "ber-alles",
     "\xc3\xbc"
     "ber"},                                                                            /* über */
    {TS_HASHTAG_X, "\xef\xbc\x83\xe5\x85\xa8\xe8\xa7\x92", "\xe5\x85\xa8\xe8\xa7\x92"}, /* ＃全角 */
    {TS_HASHTAG_X, "#\xc4\xb0stanbul'da", "\xc4\xb0stanbul"}, /* İstanbul */
    {TS_HASHTAG_X, "#foo#bar", ""},
    {TS_HASHTAG_X,
     "#foo\xef\xbc\x83"
     "bar",
     ""},
    {TS_HASHTAG_X, "see #http://example.com", ""},
    {TS_HASHTAG_X, "#\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc", /* 東京タワー */
     "\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc"},
    {TS_HASHTAG_X, "#cafe\xcc\x81!", "cafe\xcc\x81"}, /* a combining mark */
    {TS_HASHTAG_X,
     "#\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85", /* ZWNJ */
     "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85"},
    {TS_HASHTAG_X, "#\xef\xb8\x8f\xe2\x83\xa3 keycap", ""},
    {TS_HASHTAG_X, "#a\xff#b", "a|b"},
    {TS_HASHTAG_X, "mail@#x", "x"},
    {TS_HASHTAG_X, "#\xd9\xa3\xd9\xa4", ""}, /* Arabic-Indic digits only */
    {TS_HASHTAG_X,
     "#\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\x91\xce\xa3 #Stra\xc3\x9f"
     "e",
     "\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\x91\xce\xa3|Stra\xc3\x9f"
     "e"},
    {TS_HASHTAG_X, "", ""},
    {TS_HASHTAG_X, "#", ""},
    {TS_HASHTAG_X, "trailing #", ""},
    {TS_HASHTAG_MASTODON, "#kafka", "kafka"},
    {TS_HASHTAG_MASTODON, "foo#bar /#bar )#bar =#bar", ""},
    {TS_HASHTAG_MASTODON, "_#bar", "bar"},
    {TS_HASHTAG_MASTODON,
     "#foo\xc2\xb7"
     "bar and #foo\xc2\xb7 end",
     "foo\xc2\xb7"
     "bar|foo"},
    {TS_HASHTAG_MASTODON, "#123 #12a", "12a"},
    {TS_HASHTAG_MASTODON, "#foo#bar", "foo"},
    {TS_HASHTAG_MASTODON, "\xef\xbc\x83\xe5\x85\xa8\xe8\xa7\x92 is not a sign here", ""},
    {TS_HASHTAG_MASTODON,
     "#\xc3\x9cn\xc3\xaf"
     "c\xc3\xb6"
     "d\xc3\xa9, done",
     "\xc3\x9cn\xc3\xaf"
     "c\xc3\xb6"
     "d\xc3\xa9"},
    /* Bluesky: after white space only; anything up to white space; trailing punctuation off */
    {TS_HASHTAG_BLUESKY, "#kafka", "kafka"},
    {TS_HASHTAG_BLUESKY, "#Kafka,#AWS.", "Kafka,#AWS"},
    {TS_HASHTAG_BLUESKY, "#c++ and #tag... and #foo-bar", "c++|tag|foo-bar"},
    {TS_HASHTAG_BLUESKY, "mid#word (#paren)", ""},
    {TS_HASHTAG_BLUESKY, "#2024 #1.5 #!!! # #_", ""},
    {TS_HASHTAG_BLUESKY,
     "#2024a\t#"
     "\xe6\x9d\xb1\xe4\xba\xac",
     "2024a|\xe6\x9d\xb1\xe4\xba\xac"},
    {TS_HASHTAG_BLUESKY,
     "\xef\xbc\x83"
     "full width",
     "full"},
    {TS_HASHTAG_BLUESKY, "#\xef\xb8\x8f\xe2\x83\xa3 keycap", ""},
    {TS_HASHTAG_BLUESKY, "#a\xe2\x80\x8b#b zero width space ends a tag", "a"},
    {TS_HASHTAG_BLUESKY, "#a\xc2\xa0#b no-break space is white space", "a|b"},
    {TS_HASHTAG_BLUESKY,
     "#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
     "#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {TS_HASHTAG_BLUESKY, "#\xe5\x8f\xb0 #\xf0\x9f\x98\x80", "\xe5\x8f\xb0|\xf0\x9f\x98\x80"},
};

static int collect(void *opaque, const char *p, size_t n)
{
    char *out = opaque;
    size_t l = strlen(out);

    if (l)
        out[l++] = '|';
    memcpy(out + l, p, n);
    out[l + n] = '\0';
    return 0;
}

ParameterizedTestParameters(hashtag, extract)
{
    return ts_test_indices(sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(size_t *idx, hashtag, extract)
{
    const tcase *c = &cases[*idx];
    char got[512] = "";
    size_t n = ts_hashtag_extract(c->text, strlen(c->text), c->rules, collect, got);

    cr_expect_str_eq(got, c->want, "%s rules on \"%s\"",
                     c->rules == TS_HASHTAG_X          ? "X"
                     : c->rules == TS_HASHTAG_MASTODON ? "Mastodon"
                                                       : "Bluesky",
                     c->text);
    size_t want_n = c->want[0] ? 1 : 0;
    for (const char *q = c->want; *q; q++)
        want_n += *q == '|';
    cr_expect_eq(n, want_n, "count for \"%s\"", c->text);
}

static int stop_after_one(void *opaque, const char *p, size_t n)
{
    (void)p, (void)n;
    ++*(int *)opaque;
    return 1;
}

Test(hashtag, the_callback_can_stop_the_scan)
{
    int calls = 0;

    cr_expect_eq(ts_hashtag_extract("#a #b #c", 8, TS_HASHTAG_X, stop_after_one, &calls), 1);
    cr_expect_eq(calls, 1);
}
