using System.Diagnostics;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Parity;

/// <summary>
/// Runs two models behind the engine seam — two engines, or one engine at two settings — over the same
/// prompts and measures how far apart they are: logits at every prompt position and greedy step,
/// argmax agreement, greedy continuations, and embedding similarity.
/// </summary>
/// <remarks>
/// Everything runs on the calling thread in a fixed order (the engines may use threads inside a
/// forward pass, but each of their outputs is reduced in a fixed order), so the figures do not
/// depend on the thread count. The decode loop reuses two logit rows and allocates nothing per step.
/// </remarks>
public static class ParityHarness
{
    /// <summary>Compares <paramref name="a"/> (the reference) with <paramref name="b"/> over <paramref name="prompts"/>.</summary>
    /// <param name="a">The reference model.</param>
    /// <param name="b">The model under test; it must share <paramref name="a"/>'s vocabulary and width.</param>
    /// <param name="tokenizer">Encodes the prompts for both models.</param>
    /// <param name="prompts">Prompt texts (at least one).</param>
    /// <param name="options">Steps and thresholds (null: defaults).</param>
    /// <param name="cancellationToken">Checked before every prompt and every decode step.</param>
    /// <exception cref="ArgumentException">No prompts, a prompt longer than the context, or models of different shapes.</exception>
    public static ParityReport Compare(ILanguageModel a, ILanguageModel b, PieceTokenizer tokenizer, IEnumerable<string> prompts,
        ParityOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompts);
        options ??= new ParityOptions();
        options.Validate();
        CheckComparable(a.Config, b.Config);
        string[] texts = prompts.Select((p, i) => p ?? throw new ArgumentNullException(nameof(prompts), $"Prompt {i} is null.")).ToArray();
        if (texts.Length == 0)
            throw new ArgumentException("There are no prompts to compare.", nameof(prompts));

        var clock = Stopwatch.StartNew();
        int context = Math.Min(a.Config.MaxSequenceLength, b.Config.MaxSequenceLength);
        int[][] tokens = texts.Select((t, i) => Encode(tokenizer, t, i, options.AddBos, context)).ToArray();
        // Embeddings need both engines' hidden states; a logits-only ONNX graph (Optimum's) has none.
        bool embeddings = a.Description.HasHiddenStates && b.Description.HasHiddenStates;
        double[] cosines = embeddings ? EmbeddingCosines(a, b, tokenizer, texts, options.Embedding) : texts.Select(_ => double.NaN).ToArray();

        var rows = new PromptParity[texts.Length];
        var overall = new LogitDiffAccumulator();
        for (int i = 0; i < texts.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            rows[i] = ComparePrompt(a, b, tokenizer, i, texts[i], tokens[i], cosines[i], options.Steps, context, ref overall, cancellationToken);
        }
        return new ParityReport
        {
            ModelA = Describe(a),
            ModelB = Describe(b),
            Options = options,
            Prompts = rows,
            Logits = overall.ToStats(),
            Elapsed = clock.Elapsed,
            EmbeddingsCompared = embeddings,
        };
    }

    private static PromptParity ComparePrompt(ILanguageModel a, ILanguageModel b, PieceTokenizer tokenizer, int index, string text,
        int[] prompt, double cosine, int steps, int context, ref LogitDiffAccumulator overall, CancellationToken ct)
    {
        int vocab = a.Config.VocabSize;
        using IModelSession sa = a.CreateSession();
        using IModelSession sb = b.CreateSession();

        // The whole prompt as one chunk with every position's logits: this is the prefill path, which
        // engines implement differently from single-token decoding, so it gets compared on its own.
        var promptA = new float[prompt.Length * vocab];
        var promptB = new float[prompt.Length * vocab];
        sa.Forward(prompt, 0, promptA);
        sb.Forward(prompt, 0, promptB);
        var promptDiff = new LogitDiffAccumulator();
        for (int p = 0; p < prompt.Length; p++)
            promptDiff.Add(promptA.AsSpan(p * vocab, vocab), promptB.AsSpan(p * vocab, vocab));

        int length = steps == 0 ? context - prompt.Length : Math.Min(steps, context - prompt.Length);
        var stepDiff = new LogitDiffAccumulator();
        var continuation = Continue(sa, sb, promptA.AsSpan((prompt.Length - 1) * vocab, vocab),
            promptB.AsSpan((prompt.Length - 1) * vocab, vocab), prompt.Length, length, ref stepDiff, ct);

        overall.Add(promptDiff);
        overall.Add(stepDiff);
        return new PromptParity
        {
            Index = index,
            Prompt = text,
            TokenCount = prompt.Length,
            PromptLogits = promptDiff.ToStats(),
            ContinuationLogits = stepDiff.ToStats(),
            Continuation = continuation with
            {
                TextA = tokenizer.Decode(continuation.TokensA) ?? "",
                TextB = tokenizer.Decode(continuation.TokensB) ?? "",
            },
            EmbeddingCosine = cosine,
        };
    }

    /// <summary>
    /// Greedy decoding of <paramref name="length"/> tokens on both sessions, each fed its own tokens.
    /// Logits are compared only while every token so far agrees: after a divergence the two models
    /// condition on different text, so a difference in their logits says nothing about the engines.
    /// </summary>
    internal static ContinuationParity Continue(IModelSession sa, IModelSession sb, ReadOnlySpan<float> lastA, ReadOnlySpan<float> lastB,
        int start, int length, ref LogitDiffAccumulator diff, CancellationToken ct)
    {
        var tokensA = new int[length];
        var tokensB = new int[length];
        int vocab = lastA.Length;
        var rowA = new float[vocab];
        var rowB = new float[vocab];
        lastA.CopyTo(rowA);
        lastB.CopyTo(rowB);
        int? divergence = null;
        for (int k = 0; k < length; k++)
        {
            ct.ThrowIfCancellationRequested();
            tokensA[k] = Sampler.ArgMax(rowA);
            tokensB[k] = Sampler.ArgMax(rowB);
            if (divergence is null && tokensA[k] != tokensB[k])
                divergence = k;
            if (k == length - 1)
                break;   // the last token is generated but need not be fed
            sa.Forward(tokensA.AsSpan(k, 1), start + k, rowA);
            sb.Forward(tokensB.AsSpan(k, 1), start + k, rowB);
            if (divergence is null)
                diff.Add(rowA, rowB);
        }
        return new ContinuationParity(length, divergence, tokensA, tokensB, "", "");
    }

    private static double[] EmbeddingCosines(ILanguageModel a, ILanguageModel b, PieceTokenizer tokenizer, string[] texts, EmbeddingOptions options)
    {
        float[][] ea = new Embedder(a, tokenizer, options).Embed(texts);
        float[][] eb = new Embedder(b, tokenizer, options).Embed(texts);
        var cosines = new double[texts.Length];
        for (int i = 0; i < texts.Length; i++)
            cosines[i] = Cosine(ea[i], eb[i]);
        return cosines;
    }

    /// <summary>Cosine similarity in double precision (so that 0.99999 is measured, not rounded); NaN counts as -1.</summary>
    internal static double Cosine(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double dot = 0, xx = 0, yy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            xx += (double)x[i] * x[i];
            yy += (double)y[i] * y[i];
        }
        if (xx == 0 && yy == 0) return 1;   // two zero vectors are the same vector
        double cosine = dot / Math.Sqrt(xx * yy);
        return double.IsNaN(cosine) ? -1 : Math.Clamp(cosine, -1, 1);
    }

    private static int[] Encode(PieceTokenizer tokenizer, string text, int index, bool addBos, int context)
    {
        int[] ids = tokenizer.Encode(text, addBos, addEos: false);
        if (ids.Length == 0)
            ids = [tokenizer.BosId];   // an empty prompt without BOS still needs one position
        if (ids.Length > context)
            throw new ArgumentException($"Prompt {index} is {ids.Length} tokens long but the context holds {context}.", "prompts");
        return ids;
    }

    private static void CheckComparable(ModelConfig a, ModelConfig b)
    {
        if (a.VocabSize != b.VocabSize)
            throw new ArgumentException($"The models' vocabularies differ ({a.VocabSize} and {b.VocabSize} tokens); their logits cannot be compared.");
        if (a.Dim != b.Dim)
            throw new ArgumentException($"The models' hidden sizes differ ({a.Dim} and {b.Dim}); their embeddings cannot be compared.");
    }

    private static string Describe(ILanguageModel model) => model.Description.ToString();
}
