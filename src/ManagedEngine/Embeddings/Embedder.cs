using System.Numerics.Tensors;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Embeddings;

/// <summary>
/// Text embeddings from a decoder's final hidden states (<c>last_hidden_state</c>), on any engine:
/// tokenize, truncate, run a batch of texts together, pool, optionally L2-normalise.
/// Thread-safe: each call works on its own buffers.
/// </summary>
public sealed class Embedder
{
    private readonly ILanguageModel _model;
    private readonly PieceTokenizer _tokenizer;

    /// <summary>Creates an embedder over a model and its tokenizer.</summary>
    public Embedder(ILanguageModel model, PieceTokenizer tokenizer, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options ??= new EmbeddingOptions();
        options.Validate();
        _model = model;
        _tokenizer = tokenizer;
        Options = options;
        MaxTokens = options.MaxTokens == 0 ? model.Config.MaxSequenceLength : Math.Min(options.MaxTokens, model.Config.MaxSequenceLength);
    }

    /// <summary>The settings in use.</summary>
    public EmbeddingOptions Options { get; }

    /// <summary>Width of each embedding (the model's hidden size).</summary>
    public int Dimension => _model.Config.Dim;

    /// <summary>The effective token limit per text.</summary>
    public int MaxTokens { get; }

    /// <summary>The token ids a text is embedded from (after <see cref="EmbeddingOptions.LongInputs"/> is applied).</summary>
    /// <exception cref="ArgumentException">The text is too long and the policy is <see cref="LongInputPolicy.Error"/>.</exception>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int[] ids = _tokenizer.Encode(text, Options.AddBos, addEos: false);
        if (ids.Length == 0)
            ids = [_tokenizer.BosId];   // an empty text without BOS still needs one position
        return TokenLimits.Fit(ids, MaxTokens, Options.LongInputs, keepFirst: Options.AddBos);
    }

    /// <summary>Embeds texts, <see cref="EmbeddingOptions.BatchSize"/> at a time; one vector per text.</summary>
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new float[texts.Count][];
        for (int start = 0; start < texts.Count; start += Options.BatchSize)
        {
            int count = Math.Min(Options.BatchSize, texts.Count - start);
            var tokens = new int[count][];
            for (int i = 0; i < count; i++)
                tokens[i] = Tokenize(texts[start + i] ?? throw new ArgumentNullException(nameof(texts), $"Text {start + i} is null."));
            float[][] vectors = EmbedTokens(tokens);
            Array.Copy(vectors, 0, result, start, count);
        }
        return result;
    }

    /// <summary>Embeds one batch of token sequences in a single engine call.</summary>
    public float[][] EmbedTokens(IReadOnlyList<int[]> tokens)
    {
        BatchForwardResult batch = _model.ForwardBatch(tokens, BatchOutputs.HiddenStates);
        var vectors = new float[tokens.Count][];
        for (int row = 0; row < tokens.Count; row++)
            vectors[row] = Pool(batch, row, tokens[row].Length);
        return vectors;
    }

    private float[] Pool(BatchForwardResult batch, int row, int length)
    {
        var vector = new float[Dimension];
        switch (Options.Pooling)
        {
            case Pooling.FirstToken:
                batch.HiddenState(row, 0).CopyTo(vector);
                break;
            case Pooling.LastToken:
                batch.HiddenState(row, length - 1).CopyTo(vector);
                break;
            default:
                for (int t = 0; t < length; t++)
                    TensorPrimitives.Add(vector, batch.HiddenState(row, t), vector);
                TensorPrimitives.Divide(vector, length, vector);
                break;
        }
        if (Options.Normalize)
        {
            float norm = TensorPrimitives.Norm(vector);
            if (norm > 0) TensorPrimitives.Divide(vector, norm, vector);
        }
        return vector;
    }
}
