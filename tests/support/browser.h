/*
 * browser: a real headless Chromium driven over the DevTools protocol, for
 * tests of web pages. Chromium is started with --remote-debugging-pipe, so
 * the protocol's JSON messages travel on two pipes (no WebSocket, no port),
 * and with a new empty profile in a temporary directory. Every helper fails
 * the current Criterion test on error.
 *
 * The browser is $TAGSTREAM_CHROMIUM, else `chromium` on the PATH.
 */
#ifndef TESTKIT_BROWSER_H
#define TESTKIT_BROWSER_H

typedef struct tk_browser tk_browser;

/* 1 when a browser can be started here (for skipping a test clearly). */
int tk_browser_available(void);

/* Start the browser, open one tab on `url` and attach to it. */
tk_browser *tk_browser_open(const char *url);

/* Evaluate a JavaScript expression in the page (promises awaited) and
 * return its value as JSON text (malloc'd; "null" for undefined). */
char *tk_browser_eval(tk_browser *b, const char *expr);

/* Save a PNG of the page as it is shown now. */
void tk_browser_screenshot(tk_browser *b, const char *path);

/* Close the browser, wait for it, remove its profile; NULL ok. */
void tk_browser_close(tk_browser *b);

#endif
