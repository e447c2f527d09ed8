namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>A piece of work split into units that threads take in contiguous ranges.</summary>
internal abstract class ParallelJob
{
    /// <summary>Processes units <c>[start, end)</c> on thread <paramref name="thread"/> (0 = the caller), for per-thread scratch.</summary>
    public abstract void Execute(int start, int end, int thread);
}

/// <summary>
/// A persistent fork/join pool: <c>threads - 1</c> workers plus the calling thread. A matmul of a
/// 288-wide model lasts microseconds, too short for <c>Parallel.For</c> (task scheduling costs as much)
/// or for waking blocked threads, so workers spin on a generation counter between jobs and only
/// block after a while without work. Units are handed out in chunks that threads claim as they finish
/// the last one (a few chunks per thread), so a thread slowed by the machine does not hold the others up;
/// each output element is produced by exactly one thread, so results do not depend on the thread count.
/// Not re-entrant: one job at a time (a pool belongs to one session).
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    // How long an idle worker spins before it blocks; MLPIPE_WORKER_SPINS overrides it (read once) so the policy can be
    // measured under contention (docs/benchmarks.md).
    internal static readonly int DefaultSpinsBeforeSleep =
        int.TryParse(Environment.GetEnvironmentVariable("MLPIPE_WORKER_SPINS"), out int spins) && spins >= 0 ? spins : 20_000;

    private readonly int _spinsBeforeSleep;

    private readonly Thread[] _workers;
    private readonly object _gate = new();   // sleeping workers wait on it; a new job pulses it
    private ParallelJob? _job;
    private int _units;
    private int _chunk;
    private int _nextUnit;
    private long _generation;
    private int _pending;
    private int _sleepers;
    private volatile bool _stopping;
    private Exception? _failure;

    public WorkerPool(int threads, int? spinsBeforeSleep = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        _spinsBeforeSleep = spinsBeforeSleep ?? DefaultSpinsBeforeSleep;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int index = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"mlpipe-worker-{index}" };
            _workers[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs <paramref name="job"/> over <paramref name="units"/> units on all threads and waits for it.</summary>
    /// <param name="job">The work.</param>
    /// <param name="units">How many units it has.</param>
    /// <param name="chunksPerThread">Chunks per thread (1: one contiguous share each).</param>
    /// <param name="alignment">Chunks start at multiples of this (a kernel's natural block of rows).</param>
    public void Run(ParallelJob job, int units, int chunksPerThread = 1, int alignment = 1)
    {
        if (Threads == 1 || units < 2)
        {
            job.Execute(0, units, 0);
            return;
        }
        _job = job;
        _units = units;
        _chunk = Chunk(units, Threads * chunksPerThread, alignment);
        Volatile.Write(ref _nextUnit, 0);
        _failure = null;
        Volatile.Write(ref _pending, _workers.Length);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
            WakeAll();

        Exception? mine = null;
        try
        {
            Execute(0);
        }
        catch (Exception e)
        {
            mine = e;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) > 0)
            spin.SpinOnce(sleep1Threshold: -1);
        _job = null;
        if (mine is not null || _failure is not null)
            throw mine ?? new AggregateException(_failure!);
    }

    private void Execute(int thread)
    {
        int units = _units, chunk = _chunk;
        while (true)
        {
            int start = Interlocked.Add(ref _nextUnit, chunk) - chunk;
            if (start >= units) return;
            _job!.Execute(start, Math.Min(start + chunk, units), thread);
        }
    }

    /// <summary>The chunk size for about <paramref name="chunks"/> chunks: a multiple of <paramref name="alignment"/>, at least one unit.</summary>
    internal static int Chunk(int units, int chunks, int alignment)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(alignment, 1);
        long perChunk = ((long)units + chunks - 1) / chunks;
        return (int)Math.Max(1, Math.Min(units, (perChunk + alignment - 1) / alignment * alignment));
    }

    private void WorkerLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            long generation = WaitForWork(seen);
            if (_stopping) return;
            seen = generation;
            try
            {
                Execute(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    private long WaitForWork(long seen)
    {
        int spins = 0;
        var spin = new SpinWait();
        while (true)
        {
            long generation = Volatile.Read(ref _generation);
            if (generation != seen || _stopping) return generation;
            if (++spins < _spinsBeforeSleep)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }
            // Announce sleeping, then wait for a new generation under the gate. A job published before the
            // announcement is seen by the check below; one published after it finds a sleeper and pulses the gate,
            // which cannot fall between the check and the wait because both hold the gate. Every sleeper is woken
            // (PulseAll): counted wake-ups (a semaphore) let a fast worker take a slow one's permit and leave it
            // asleep with its share of the job undone.
            Interlocked.Increment(ref _sleepers);
            lock (_gate)
            {
                while (Volatile.Read(ref _generation) == seen && !_stopping)
                    Monitor.Wait(_gate);
            }
            Interlocked.Decrement(ref _sleepers);
            spins = 0;
        }
    }

    private void WakeAll()
    {
        lock (_gate) Monitor.PulseAll(_gate);
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        WakeAll();
        foreach (Thread worker in _workers) worker.Join();
    }
}
