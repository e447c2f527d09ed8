using System.Diagnostics;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>
/// The two timed workloads, on any engine's session: decoding one token per forward call, and
/// prefilling a chunk in one call. Both return elapsed seconds of the timed part only.
/// </summary>
public static class SessionTimings
{
    /// <summary>
    /// Runs <paramref name="prompt"/> from position 0 (untimed), then times <paramref name="tokens"/> greedy
    /// decode steps: each forwards the argmax of the previous logits at the next position.
    /// </summary>
    /// <param name="session">The session; its cache is rewound to 0 first.</param>
    /// <param name="prompt">Prompt token ids (at least one).</param>
    /// <param name="tokens">Decode steps to time.</param>
    /// <param name="logits">A buffer of <c>VocabSize</c> floats.</param>
    public static double Decode(IModelSession session, ReadOnlySpan<int> prompt, int tokens, float[] logits)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        session.Rewind(0);
        session.Forward(prompt, 0, logits);
        int position = prompt.Length;
        Span<int> next = stackalloc int[1];
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < tokens; i++)
        {
            next[0] = Sampler.ArgMax(logits);   // as greedy generation picks (TensorPrimitives.IndexOfMax is as slow as a scalar loop)
            session.Forward(next, position++, logits);
        }
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Times one forward call of <paramref name="chunk"/> at position 0 with last-position logits.</summary>
    /// <param name="session">The session; its cache is rewound to 0 first.</param>
    /// <param name="chunk">The token ids to prefill.</param>
    /// <param name="logits">A buffer of <c>VocabSize</c> floats.</param>
    public static double Prefill(IModelSession session, ReadOnlySpan<int> chunk, float[] logits)
    {
        ArgumentNullException.ThrowIfNull(session);
        session.Rewind(0);
        long start = Stopwatch.GetTimestamp();
        session.Forward(chunk, 0, logits);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
