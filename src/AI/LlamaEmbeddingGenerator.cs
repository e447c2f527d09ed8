using Microsoft.Extensions.AI;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.OnnxEngine;

namespace MlPipelines.AI;

/// <summary>
/// An <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over <see cref="Embedder"/>: the same tokenization, truncation,
/// pooling and normalisation (<see cref="EmbeddingOptions"/>) as the embed transform and <c>mlpipe embed</c>, texts run
/// <see cref="EmbeddingOptions.BatchSize"/> at a time. Thread-safe, as <see cref="Embedder"/> is.
/// </summary>
public sealed class LlamaEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly EmbeddingGeneratorMetadata _metadata;
    private readonly bool _ownsModel;

    /// <summary>Creates a generator over <paramref name="model"/> and its <paramref name="tokenizer"/>.</summary>
    /// <param name="model">The model; it is disposed with the generator only when <paramref name="ownsModel"/> is set.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="options">Pooling, normalisation, limits and batch size; null: the defaults (mean pooling, L2-normalised).</param>
    /// <param name="modelId">The model id in metadata and embeddings; null: the model's name as the engine describes it.</param>
    /// <param name="ownsModel">Dispose the model when the generator is disposed.</param>
    public LlamaEmbeddingGenerator(ILanguageModel model, PieceTokenizer tokenizer, EmbeddingOptions? options = null, string? modelId = null, bool ownsModel = false)
    {
        Embedder = new Embedder(model, tokenizer, options);
        Model = model;
        _ownsModel = ownsModel;
        _metadata = new EmbeddingGeneratorMetadata(LlamaChatClient.ProviderName, providerUri: null, modelId ?? model.Description.Model, Embedder.Dimension);
    }

    /// <summary>Creates a generator over a loaded model and its tokenizer.</summary>
    public LlamaEmbeddingGenerator(LoadedModel model, EmbeddingOptions? options = null, string? modelId = null, bool ownsModel = false)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Model, model.Tokenizer, options, modelId, ownsModel)
    {
    }

    /// <summary>The embedder the vectors come from.</summary>
    public Embedder Embedder { get; }

    /// <summary>The model.</summary>
    public ILanguageModel Model { get; }

    /// <summary>The generator's metadata: provider, model id and dimensions (the model's hidden size).</summary>
    public EmbeddingGeneratorMetadata Metadata => _metadata;

    /// <summary>Opens <paramref name="model"/> (a path, name or Hugging Face id) on <paramref name="engine"/> and returns a generator that owns it.</summary>
    public static LlamaEmbeddingGenerator Open(string? model, EngineKind engine = EngineKind.Managed, EmbeddingOptions? options = null, EngineOptions? engineOptions = null)
    {
        LoadedModel loaded = LanguageModels.Open(model, tokenizer: null, engine, engineOptions);
        try
        {
            return new LlamaEmbeddingGenerator(loaded, options, modelId: null, ownsModel: true);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">A text is null, or too long under <see cref="LongInputPolicy.Error"/>; or other dimensions are asked for.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; checked between batches.</exception>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is int dimensions && dimensions != Embedder.Dimension)
            throw new ArgumentException($"EmbeddingGenerationOptions.Dimensions is {dimensions}, but this model's embeddings have {Embedder.Dimension} dimensions.", nameof(options));
        string[] texts = values.ToArray();
        var result = new GeneratedEmbeddings<Embedding<float>>(texts.Length);
        long tokenCount = 0;
        DateTimeOffset created = DateTimeOffset.UtcNow;
        for (int start = 0; start < texts.Length; start += Embedder.Options.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(Embedder.Options.BatchSize, texts.Length - start);
            // Embedder.Embed's own steps, one batch at a time, so the token counts are known and cancellation is checked between batches.
            var tokens = new int[count][];
            for (int i = 0; i < count; i++)
            {
                tokens[i] = Embedder.Tokenize(texts[start + i] ?? throw new ArgumentException($"Text {start + i} is null.", nameof(values)));
                tokenCount += tokens[i].Length;
            }
            float[][] vectors = await Task.Run(() => Embedder.EmbedTokens(tokens), cancellationToken).ConfigureAwait(false);
            foreach (float[] vector in vectors)
                result.Add(new Embedding<float>(vector) { ModelId = _metadata.DefaultModelId, CreatedAt = created });
        }
        result.Usage = new UsageDetails { InputTokenCount = tokenCount, TotalTokenCount = tokenCount };
        return result;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(Model)) return Model;
        if (serviceType.IsInstanceOfType(Embedder)) return Embedder;
        return null;
    }

    /// <summary>Releases the model when the generator owns it.</summary>
    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
    }
}
