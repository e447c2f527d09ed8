namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// Lets a model be disposed while other threads are using it. Every call that reads the model's memory (weights,
/// native sessions) runs between <see cref="Enter"/> and <see cref="Exit"/>; <see cref="Close"/> (the model's
/// Dispose) refuses new calls and runs the release action once the last call in flight has left — at once when none
/// is. So a call either finishes on intact memory or fails with <see cref="ObjectDisposedException"/> before it
/// starts, and disposal never unmaps memory under a running forward pass. Engines take it once per call (one
/// interlocked increment and decrement), not per token or per thread.
/// </summary>
public sealed class InFlightGate
{
    // The top bit marks the gate closed; the rest counts calls in flight. A closed gate with no calls is exactly ClosedBit.
    private const int ClosedBit = int.MinValue;

    private readonly object _owner;
    private readonly Action _release;
    private int _state;
    private int _released;

    /// <summary>A gate for <paramref name="owner"/> (named in <see cref="ObjectDisposedException"/>s) that runs <paramref name="release"/> once.</summary>
    /// <param name="owner">The object the calls are made on.</param>
    /// <param name="release">Frees what the calls use; runs on the thread that closes the gate or that leaves it last.</param>
    public InFlightGate(object owner, Action release)
    {
        _owner = owner ?? throw new ArgumentNullException(nameof(owner));
        _release = release ?? throw new ArgumentNullException(nameof(release));
    }

    /// <summary>True once <see cref="Close"/> has been called (the memory may still be in use by calls in flight).</summary>
    public bool IsClosed => Volatile.Read(ref _state) < 0;

    /// <summary>Starts a call; pair it with <see cref="Exit"/> in a <c>finally</c>.</summary>
    /// <exception cref="ObjectDisposedException">The gate is closed (the owner was disposed).</exception>
    public void Enter()
    {
        if (Interlocked.Increment(ref _state) < 0)
        {
            // Counted in by mistake after Close: leave again (which may be what lets the release run), then refuse.
            Exit();
            throw new ObjectDisposedException(_owner.GetType().FullName);
        }
    }

    /// <summary>Ends a call started by <see cref="Enter"/>; the last call to leave a closed gate runs the release.</summary>
    public void Exit()
    {
        if (Interlocked.Decrement(ref _state) == ClosedBit)
            Release();
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> if the gate is closed (for operations that start no call).</summary>
    public void ThrowIfClosed() => ObjectDisposedException.ThrowIf(IsClosed, _owner);

    /// <summary>Refuses new calls and releases the memory once no call is in flight. Idempotent.</summary>
    public void Close()
    {
        int before = Interlocked.Or(ref _state, ClosedBit);
        if (before == 0)
            Release();
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
            _release();
    }
}
