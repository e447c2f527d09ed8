using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.AI;

/// <summary>
/// At most a fixed number of sessions of one model, lent to one request at a time. Each remembers the tokens its KV
/// cache holds, so a request can be given the idle session that already holds the longest part of its prompt.
/// </summary>
internal sealed class SessionPool : IDisposable
{
    private readonly ILanguageModel _model;
    private readonly SemaphoreSlim _slots;
    private readonly List<PooledSession> _idle = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    public SessionPool(ILanguageModel model, int maxSessions)
    {
        _model = model;
        _slots = new SemaphoreSlim(maxSessions, maxSessions);
    }

    /// <summary>Waits for a free slot and returns the idle session sharing the longest prefix with <paramref name="prompt"/> (or a new one).</summary>
    public async Task<PooledSession> RentAsync(ReadOnlyMemory<int> prompt, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            PooledSession? best = null;
            int bestLength = -1;
            foreach (PooledSession candidate in _idle)
            {
                int length = candidate.CommonPrefix(prompt.Span);
                if (length > bestLength) (best, bestLength) = (candidate, length);
            }
            if (best is not null)
            {
                _idle.Remove(best);
                return best;
            }
        }
        try
        {
            return new PooledSession(_model.CreateSession());
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>Gives a session back for the next request.</summary>
    public void Return(PooledSession session)
    {
        lock (_lock)
        {
            if (_disposed) session.Dispose();
            else _idle.Add(session);
        }
        _slots.Release();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (PooledSession session in _idle) session.Dispose();
            _idle.Clear();
        }
    }
}

/// <summary>A session and the tokens its KV cache holds, in order from position 0.</summary>
internal sealed class PooledSession(IModelSession session) : IDisposable
{
    public IModelSession Session { get; } = session;

    /// <summary>The tokens at positions 0 .. Count - 1 of the cache.</summary>
    public List<int> Tokens { get; } = [];

    private float[]? _logits;

    /// <summary>The session's logits buffer, kept across requests.</summary>
    public float[] Logits(int vocabSize) => _logits ??= new float[vocabSize];

    public int CommonPrefix(ReadOnlySpan<int> prompt)
    {
        int n = Math.Min(prompt.Length, Tokens.Count), i = 0;
        while (i < n && Tokens[i] == prompt[i]) i++;
        return i;
    }

    /// <summary>After a failure mid-forward the cache's contents are unknown: start over.</summary>
    public void Forget()
    {
        Tokens.Clear();
        Session.Reset();
    }

    public void Dispose() => Session.Dispose();
}
