using System.Runtime.CompilerServices;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.ManagedEngine.Generation;

/// <summary>
/// Autoregressive generation over any engine's <see cref="IModelSession"/>. It yields the same token
/// stream as llama2.c run.c's <c>generate()</c>: the prompt's tokens after the first, then sampled
/// tokens, stopping on BOS (or EOS) or after <see cref="GenerationOptions.MaxSteps"/> positions.
/// The prompt is processed as one chunk; only the last position's logits are computed for it.
/// </summary>
public static class Generator
{
    /// <summary>Streams tokens for a prompt of token ids (normally starting with BOS).</summary>
    /// <exception cref="ArgumentException">The prompt is empty or longer than the model's context.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; checked before every step.</exception>
    public static IEnumerable<GeneratedToken> Generate(IModelSession session, IReadOnlyList<int> prompt,
        GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ModelConfig config = session.Config;
        if (prompt.Count == 0)
            throw new ArgumentException("The prompt must hold at least one token (normally BOS).", nameof(prompt));
        if (prompt.Count > config.MaxSequenceLength)
            throw new ArgumentException(
                $"The prompt is {prompt.Count} tokens long but the model's context holds {config.MaxSequenceLength}.", nameof(prompt));
        for (int i = 0; i < prompt.Count; i++)
            if ((uint)prompt[i] >= (uint)config.VocabSize)
                throw new ArgumentException($"Prompt token {i} is id {prompt[i]}, outside the vocabulary of {config.VocabSize}.", nameof(prompt));
        return Iterate(session, prompt.ToArray(), options, cancellationToken);
    }

    /// <summary>The asynchronous form of <see cref="Generate"/>; each step runs on the thread pool.</summary>
    public static async IAsyncEnumerable<GeneratedToken> GenerateAsync(IModelSession session, IReadOnlyList<int> prompt,
        GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using IEnumerator<GeneratedToken> steps = Generate(session, prompt, options, cancellationToken).GetEnumerator();
        while (await Task.Run(steps.MoveNext, cancellationToken).ConfigureAwait(false))
            yield return steps.Current;
    }

    private static IEnumerable<GeneratedToken> Iterate(IModelSession session, int[] prompt, GenerationOptions options, CancellationToken ct)
    {
        ModelConfig config = session.Config;
        int steps = options.MaxSteps == 0 || options.MaxSteps > config.MaxSequenceLength ? config.MaxSequenceLength : options.MaxSteps;

        // Prompt tokens after the first are "generated" by force, as run.c prints them.
        int forced = Math.Min(prompt.Length - 1, steps);
        for (int i = 1; i <= forced; i++)
        {
            ct.ThrowIfCancellationRequested();
            if (prompt[i] == config.BosId) yield break;
            yield return new GeneratedToken(prompt[i], prompt[i - 1], IsPrompt: true);
        }
        if (steps < prompt.Length) yield break;

        var sampler = new Sampler(config.VocabSize, options.Sampling);
        var logits = new float[config.VocabSize];
        ct.ThrowIfCancellationRequested();
        session.Forward(prompt, 0, logits);
        int previous = prompt[^1];
        for (int pos = prompt.Length, sampled = 1; ; pos++, sampled++)
        {
            ct.ThrowIfCancellationRequested();
            int next = sampler.Sample(logits);
            if (next == config.BosId || (options.StopAtEos && config.IsEndOfSequence(next)) || options.StopTokenIds.Contains(next)) yield break;
            yield return new GeneratedToken(next, previous, IsPrompt: false);
            if (pos >= steps || sampled == options.MaxNewTokens) yield break;
            ct.ThrowIfCancellationRequested();
            session.Forward([next], pos, logits);
            previous = next;
        }
    }
}
