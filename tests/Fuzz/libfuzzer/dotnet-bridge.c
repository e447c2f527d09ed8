// The libFuzzer side of coverage-guided fuzzing for tests/Fuzz (run by tests/Fuzz/run-libfuzzer.sh).
//
// libFuzzer links into a native program and calls LLVMFuzzerTestOneInput for each input; the code under test is .NET.
// This bridge starts one long-lived .NET process (MlPipelines.Fuzz --libfuzzer) and speaks SharpFuzz's protocol to it:
//   - one System V shared memory segment: a 64 KiB coverage map (SharpFuzz's instrumentation counts branch edges
//     there), then the input bytes;
//   - two pipes, whose descriptors the .NET side finds in environment variables: control (bridge -> .NET: the input's
//     length, a 32-bit int) and status (.NET -> bridge: 0 when the input kept the contract, anything else when not).
// After each input the coverage map is copied into libFuzzer's extra-counters section, which is what guides its
// mutations. A contract violation, or the .NET process dying (a stack overflow or other crash), aborts this process,
// and libFuzzer saves the input as a crash. Hangs are libFuzzer's -timeout; the .NET process dies with the bridge.
//
// Configuration, from the environment (set by run-libfuzzer.sh):
//   MLPIPE_FUZZ_DLL     path of MlPipelines.Fuzz.dll (instrumented build)
//   MLPIPE_FUZZ_TARGET  the target's name (MlPipelines.Fuzz --list)
//   MLPIPE_FUZZ_REPO    the checkout whose models/ folder holds the seed models
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CoverageBytes = 1 << 16, MaxInputBytes = 16 << 20 };

// libFuzzer reads this section (found through the linker's __start_/__stop_ symbols) as extra coverage counters.
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[CoverageBytes];

static int shm_id = -1;
static uint8_t *shared;
static int control_fd = -1, status_fd = -1;
static pid_t child = -1;

static void fail(const char *what)
{
    fprintf(stderr, "dotnet-bridge: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(2);
}

static void remove_segment(void)
{
    if (shm_id >= 0) shmctl(shm_id, IPC_RMID, NULL);
}

static const char *required(const char *name)
{
    const char *value = getenv(name);
    if (!value || !*value)
    {
        fprintf(stderr, "dotnet-bridge: set %s (run tests/Fuzz/run-libfuzzer.sh)\n", name);
        exit(2);
    }
    return value;
}

// Reads or writes exactly n bytes; returns 0 when the other side has gone.
static int read_all(int fd, void *buffer, size_t n)
{
    for (size_t done = 0; done < n;)
    {
        ssize_t r = read(fd, (char *)buffer + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        done += (size_t)r;
    }
    return 1;
}

static int write_all(int fd, const void *buffer, size_t n)
{
    for (size_t done = 0; done < n;)
    {
        ssize_t w = write(fd, (const char *)buffer + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        done += (size_t)w;
    }
    return 1;
}

// The .NET process has gone: say how, and abort so that libFuzzer keeps the input that did it.
static void child_died(void)
{
    int status = 0;
    if (waitpid(child, &status, 0) == child)
    {
        if (WIFSIGNALED(status))
            fprintf(stderr, "dotnet-bridge: the .NET process was killed by signal %d on this input\n", WTERMSIG(status));
        else if (WIFEXITED(status))
            fprintf(stderr, "dotnet-bridge: the .NET process exited with code %d on this input\n", WEXITSTATUS(status));
    }
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dll = required("MLPIPE_FUZZ_DLL");
    const char *target = required("MLPIPE_FUZZ_TARGET");
    const char *repo = required("MLPIPE_FUZZ_REPO");

    shm_id = shmget(IPC_PRIVATE, CoverageBytes + MaxInputBytes, IPC_CREAT | IPC_EXCL | 0600);
    if (shm_id < 0) fail("shmget");
    atexit(remove_segment);
    shared = shmat(shm_id, NULL, 0);
    if (shared == (void *)-1) fail("shmat");

    int control[2], status[2];
    if (pipe(control) != 0 || pipe(status) != 0) fail("pipe");

    child = fork();
    if (child < 0) fail("fork");
    if (child == 0)
    {
        // The .NET process must not outlive the bridge (a timeout ends the bridge while .NET may be stuck in a loop).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(control[1]);
        close(status[0]);
        char number[32];
        snprintf(number, sizeof number, "%d", shm_id);
        setenv("__LIBFUZZER_SHM_ID", number, 1);
        snprintf(number, sizeof number, "%d", control[0]);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", number, 1);
        snprintf(number, sizeof number, "%d", status[1]);
        setenv("__LIBFUZZER_STATUS_PIPE_ID", number, 1);
        execlp("dotnet", "dotnet", dll, "--libfuzzer", "--target", target, "--repo", repo, (char *)NULL);
        fail("exec dotnet");
    }
    close(control[0]);
    close(status[1]);
    control_fd = control[1];
    status_fd = status[0];
    // A write to a closed pipe must be an error we report, not a SIGPIPE that ends the bridge without saving the input.
    signal(SIGPIPE, SIG_IGN);

    // The .NET side says it is ready (status 0) once its seeds have run.
    int32_t ready;
    if (!read_all(status_fd, &ready, sizeof ready)) child_died();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MaxInputBytes) return -1;   // larger than the shared segment: not an input this bridge can pass on
    memset(shared, 0, CoverageBytes);
    memcpy(shared + CoverageBytes, data, size);
    int32_t length = (int32_t)size, status;
    if (!write_all(control_fd, &length, sizeof length) || !read_all(status_fd, &status, sizeof status)) child_died();
    memcpy(extra_counters, shared, CoverageBytes);
    if (status != 0)
    {
        fprintf(stderr, "dotnet-bridge: the input broke the contract (the .NET side printed why, above)\n");
        abort();
    }
    return 0;
}
