using System.Collections.Concurrent;

namespace MlPipelines.Stress.Tests.Support;

/// <summary>
/// Runs a body on many dedicated threads released together (a barrier), so the calls really overlap rather than run
/// one after another on a thread pool that grows slowly. A thread still running after <see cref="HangLimit"/> fails the
/// test as a hang; this is hang detection, not a speed assertion.
/// </summary>
internal static class Concurrently
{
    /// <summary>Generous: the whole stress suite takes seconds on two cores.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="body"/>(0 .. threads-1) at once and rethrows what any of them threw.</summary>
    /// <param name="threads">How many threads.</param>
    /// <param name="body">The work of thread <c>i</c>.</param>
    /// <param name="meanwhile">Runs on the calling thread once all threads have started (e.g. a disposal racing with them).</param>
    public static void Run(int threads, Action<int> body, Action? meanwhile = null)
    {
        var start = new Barrier(threads + 1);
        var failures = new ConcurrentQueue<Exception>();
        Thread[] workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                body(i);
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        }) { IsBackground = true, Name = $"stress-{i}" }).ToArray();
        foreach (Thread worker in workers) worker.Start();
        start.SignalAndWait();
        meanwhile?.Invoke();

        DateTime deadline = DateTime.UtcNow + HangLimit;
        foreach (Thread worker in workers)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (!worker.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
                Assert.Fail($"{worker.Name} was still running after {HangLimit.TotalSeconds} s: a hang (or a deadlock) under concurrency.");
        }
        if (!failures.IsEmpty)
            throw new AggregateException(failures);
    }

    /// <summary>Waits for <paramref name="signal"/>, failing as a hang after <see cref="HangLimit"/>.</summary>
    public static void Await(WaitHandle signal, string what)
    {
        if (!signal.WaitOne(HangLimit))
            Assert.Fail($"Gave up waiting {HangLimit.TotalSeconds} s for {what}.");
    }
}
