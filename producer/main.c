/* tagstream-producer: hashtags from X, Mastodon, a file or a generator into Kafka. */
#include "ts_pconf.h"
#include "ts_producer.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static atomic_int ts_main_stop;

static void ts_main_on_signal(int sig)
{
    (void)sig;
    atomic_store(&ts_main_stop, 1);
}

int main(int argc, char **argv)
{
    struct sigaction sa;

    if (argc == 2 && !strcmp(argv[1], "--help-markdown")) {
        /* the table of docs/CONFIGURATION.md */
        ts_conf_print_markdown(ts_pconf_props, stdout);
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ts_main_on_signal;
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: a blocking read of standard input returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return ts_producer_main(argc, argv, &ts_main_stop);
}
