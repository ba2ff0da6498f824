/*
 * The state directory is private: ts_fs_private_dir's refusals and
 * ts_fs_write_atomic, then the real tagstream-processor on state directories
 * someone else could have prepared (another owner, writable by others, links
 * in place of the lock and id files, a forged instance.id) and on the
 * default one. No broker: every refusal comes before the first connection.
 */
#include "ts_fs.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmp[] = "/tmp/ts-statedir-XXXXXX";
static char errbuf[1024];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp));
    umask(022);
}

static void teardown(void)
{
    cr_expect_eq(ts_fs_remove_tree(tmp, NULL, 0), TS_OK);
}

TestSuite(state_dir, .init = setup, .fini = teardown);

static const char *at(const char *rel)
{
    static char bufs[8][600];
    static int i;
    char *b = bufs[i++ % 8];

    snprintf(b, sizeof(bufs[0]), "%s/%s", tmp, rel);
    return b;
}

static unsigned mode_of(const char *path)
{
    struct stat st;

    cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
    return (unsigned)(st.st_mode & 07777);
}

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

/* ---- ts_fs ---- */

Test(state_dir, created_0700_with_parents)
{
    cr_assert_eq(ts_fs_private_dir(at("a/b/state"), 0, errbuf, sizeof(errbuf)), TS_OK, "%s",
                 errbuf);
    cr_expect_eq(mode_of(at("a/b/state")), 0700);
    /* an existing private one is accepted as it is */
    cr_expect_eq(ts_fs_private_dir(at("a/b/state"), 1, errbuf, sizeof(errbuf)), TS_OK, "%s",
                 errbuf);
}

Test(state_dir, writable_by_others_or_group_is_refused)
{
    cr_assert_eq(mkdir(at("s"), 0700), 0);
    cr_assert_eq(chmod(at("s"), 0777), 0);
    cr_expect_eq(ts_fs_private_dir(at("s"), 0, errbuf, sizeof(errbuf)), TS_ERR_INVALID);
    cr_expect(strstr(errbuf, "writable by every user") && strstr(errbuf, "chmod go-w"), "%s",
              errbuf);
    cr_assert_eq(chmod(at("s"), 0770), 0);
    cr_expect_eq(ts_fs_private_dir(at("s"), 0, errbuf, sizeof(errbuf)), TS_ERR_INVALID);
    cr_expect(strstr(errbuf, "writable by its group"), "%s", errbuf);
    cr_assert_eq(chmod(at("s"), 0755), 0);
    cr_expect_eq(ts_fs_private_dir(at("s"), 0, errbuf, sizeof(errbuf)), TS_OK, "%s", errbuf);
}

Test(state_dir, owned_by_another_user_is_refused)
{
    const char *dir = at("s");

    if (geteuid() == 0) {
        cr_assert_eq(mkdir(dir, 0700), 0);
        cr_assert_eq(chown(dir, 65534, 65534), 0);
    } else {
        dir = "/usr"; /* root's, and we are not root */
    }
    cr_expect_eq(ts_fs_private_dir(dir, 0, errbuf, sizeof(errbuf)), TS_ERR_INVALID);
    cr_expect(strstr(errbuf, "belongs to uid") && strstr(errbuf, "not to this user"), "%s", errbuf);
}

Test(state_dir, a_link_is_refused_only_where_asked)
{
    cr_assert_eq(mkdir(at("real"), 0700), 0);
    cr_assert_eq(symlink(at("real"), at("link")), 0);
    cr_expect_eq(ts_fs_private_dir(at("link"), 0, errbuf, sizeof(errbuf)), TS_OK, "%s", errbuf);
    cr_expect_eq(ts_fs_private_dir(at("link"), 1, errbuf, sizeof(errbuf)), TS_ERR_INVALID);
    cr_expect(strstr(errbuf, "symbolic link"), "%s", errbuf);
}

Test(state_dir, write_atomic_replaces_a_link_without_following_it)
{
    char buf[64] = "";
    FILE *fp;

    put(at("target"), "theirs\n");
    cr_assert_eq(symlink(at("target"), at("id")), 0);
    put(at("id.tmp"), "leftover of a crash");
    cr_assert_eq(ts_fs_write_atomic(at("id"), "ours\n", 5, errbuf, sizeof(errbuf)), TS_OK, "%s",
                 errbuf);
    cr_expect_eq(mode_of(at("id")), 0600);
    fp = fopen(at("id"), "r");
    cr_assert_not_null(fp);
    cr_expect_not_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    cr_expect_str_eq(buf, "ours\n");
    fp = fopen(at("target"), "r");
    cr_assert_not_null(fp);
    cr_expect_not_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    cr_expect_str_eq(buf, "theirs\n", "the link's target must be left alone");
    cr_expect_neq(access(at("id.tmp"), F_OK), 0, "no temporary file left");
}

Test(state_dir, default_is_never_under_tmp)
{
    char *d;

    cr_assert_eq(setenv("XDG_STATE_HOME", "/srv/x", 1), 0);
    d = ts_fs_default_state_dir(errbuf, sizeof(errbuf));
    cr_expect_str_eq(d, "/srv/x/tagstream");
    free(d);
    cr_assert_eq(setenv("XDG_STATE_HOME", "relative", 1), 0); /* ignored, as XDG says */
    cr_assert_eq(setenv("HOME", "/home/u", 1), 0);
    d = ts_fs_default_state_dir(errbuf, sizeof(errbuf));
    cr_expect_str_eq(d, geteuid() == 0 ? "/var/lib/tagstream" : "/home/u/.local/state/tagstream");
    free(d);
}

/* ---- the processor ---- */

/* Run tagstream-processor with a minimal environment (no TAGSTREAM_STATE_DIR)
 * and args; its log in tmp/proc.log. If wait_for is given, stop it (SIGKILL)
 * once that file exists and return -1; else return its exit code. */
static int run_processor(const char *state_dir, const char *wait_for)
{
    const char *bin = getenv("TAGSTREAM_BIN");
    char path[1024], xdg[700], sd[700];
    char *argv[16], *envp[4];
    posix_spawn_file_actions_t fa;
    int argc = 0, status, rc = -1;
    pid_t pid;

    cr_assert_not_null(bin, "TAGSTREAM_BIN is not set");
    snprintf(path, sizeof(path), "%s/tagstream-processor", bin);
    snprintf(xdg, sizeof(xdg), "XDG_STATE_HOME=%s", at("xdg"));
    envp[0] = xdg;
    envp[1] = "PATH=/usr/bin:/bin";
    envp[2] = NULL;
    argv[argc++] = path;
    argv[argc++] = "--bootstrap.servers";
    argv[argc++] = "127.0.0.1:1";
    argv[argc++] = "--application.id";
    argv[argc++] = "app";
    argv[argc++] = "--http.listen";
    argv[argc++] = "";
    if (state_dir) {
        snprintf(sd, sizeof(sd), "--state.dir=%s", state_dir);
        argv[argc++] = sd;
    }
    argv[argc] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, at("proc.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    cr_assert_eq(posix_spawn(&pid, path, &fa, NULL, argv, envp), 0, "cannot run %s", path);
    posix_spawn_file_actions_destroy(&fa);
    if (wait_for) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        for (int i = 0; i < 3000 && access(wait_for, F_OK) != 0; i++) {
            if (waitpid(pid, &status, WNOHANG) == pid)
                cr_assert_fail("the processor exited before %s appeared", wait_for);
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (!wait_for) {
        cr_assert(WIFEXITED(status));
        rc = WEXITSTATUS(status);
    }
    return rc;
}

static void expect_log(const char *text)
{
    char buf[8192];
    size_t n;
    FILE *fp = fopen(at("proc.log"), "r");

    cr_assert_not_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    cr_expect_not_null(strstr(buf, text), "the log lacks \"%s\":\n%s", text, buf);
}

Test(state_dir, processor_default_is_private_with_an_atomic_instance_id, .timeout = 90)
{
    char id[64] = "";
    FILE *fp;

    run_processor(NULL, at("xdg/tagstream/app/instance.id"));
    cr_expect_eq(mode_of(at("xdg/tagstream")), 0700);
    cr_expect_eq(mode_of(at("xdg/tagstream/app")), 0700);
    cr_expect_eq(mode_of(at("xdg/tagstream/app/instance.id")), 0600);
    cr_expect_eq(mode_of(at("xdg/tagstream/app/.lock")), 0600);
    fp = fopen(at("xdg/tagstream/app/instance.id"), "r");
    cr_assert_not_null(fp);
    cr_expect_not_null(fgets(id, sizeof(id), fp));
    fclose(fp);
    cr_expect_eq(strlen(id), 17, "16 hex digits and a newline: \"%s\"", id);
    cr_expect_eq(strspn(id, "0123456789abcdef"), 16, "\"%s\"", id);
}

Test(state_dir, processor_refuses_a_directory_others_can_write, .timeout = 60)
{
    cr_assert_eq(mkdir(at("s"), 0700), 0);
    cr_assert_eq(chmod(at("s"), 0777), 0);
    cr_expect_eq(run_processor(at("s"), NULL), 2);
    expect_log("is writable by every user");
}

Test(state_dir, processor_refuses_a_directory_of_another_user, .timeout = 60)
{
    cr_assert_eq(mkdir(at("s"), 0700), 0);
    cr_assert_eq(mkdir(at("s/app"), 0700), 0);
    if (geteuid() == 0)
        cr_assert_eq(chown(at("s/app"), 65534, 65534), 0);
    else
        cr_skip_test("needs root to give a directory away");
    cr_expect_eq(run_processor(at("s"), NULL), 2);
    expect_log("belongs to uid 65534");
}

Test(state_dir, processor_refuses_a_link_as_lock_file, .timeout = 60)
{
    cr_assert_eq(mkdir(at("s"), 0700), 0);
    cr_assert_eq(mkdir(at("s/app"), 0700), 0);
    put(at("elsewhere"), "");
    cr_assert_eq(symlink(at("elsewhere"), at("s/app/.lock")), 0);
    cr_expect_eq(run_processor(at("s"), NULL), 2);
    expect_log("symbolic link");
}

Test(state_dir, processor_refuses_a_link_as_instance_id, .timeout = 60)
{
    cr_assert_eq(mkdir(at("s"), 0700), 0);
    cr_assert_eq(mkdir(at("s/app"), 0700), 0);
    put(at("chosen"), "victim\n");
    cr_assert_eq(symlink(at("chosen"), at("s/app/instance.id")), 0);
    cr_expect_eq(run_processor(at("s"), NULL), 2);
    expect_log("symbolic link");
}

Test(state_dir, processor_refuses_an_invalid_instance_id, .timeout = 60)
{
    cr_assert_eq(mkdir(at("s"), 0700), 0);
    cr_assert_eq(mkdir(at("s/app"), 0700), 0);
    put(at("s/app/instance.id"), "a b/c\n");
    cr_expect_eq(run_processor(at("s"), NULL), 2);
    expect_log("does not hold a valid instance id");
}
