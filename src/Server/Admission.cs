namespace MlPipelines.Server;

/// <summary>
/// The bounded queue in front of the model: at most <c>running + queued</c> requests are admitted; the rest are refused
/// at once (429) rather than waiting without bound. Admitted requests wait for a session in the chat client's own pool,
/// so "running" is the pool's size and the remainder is the queue.
/// </summary>
internal sealed class Admission(int running, int queued)
{
    private readonly int _limit = running + queued;
    private int _admitted;

    /// <summary>How many requests may run at once.</summary>
    public int Running { get; } = running;

    /// <summary>How many may wait.</summary>
    public int Queued { get; } = queued;

    /// <summary>Admits a request, or returns false when every slot and queue place is taken.</summary>
    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _admitted) <= _limit) return true;
        Interlocked.Decrement(ref _admitted);
        return false;
    }

    /// <summary>Ends an admitted request.</summary>
    public void Exit() => Interlocked.Decrement(ref _admitted);
}
