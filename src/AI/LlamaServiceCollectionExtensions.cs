using Microsoft.Extensions.AI;
using MlPipelines.AI;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers this library's <see cref="IChatClient"/> and <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> (as
/// Microsoft.Extensions.AI's own packages do, in this namespace). Each returns Microsoft.Extensions.AI's builder, so
/// middleware (caching, telemetry, logging) composes with <c>.Use…()</c>.
/// </summary>
public static class LlamaServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IChatClient"/> over <paramref name="model"/> (a path, name or Hugging Face id; null:
    /// the default model) on <paramref name="engine"/>. The model is opened when the client is first resolved and
    /// disposed with the service provider.
    /// </summary>
    public static ChatClientBuilder AddLlamaChatClient(this IServiceCollection services, string? model, EngineKind engine = EngineKind.Managed,
        LlamaChatClientOptions? options = null, EngineOptions? engineOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options?.Validate();
        return services.AddChatClient(_ => LlamaChatClient.Open(model, engine, options, engineOptions));
    }

    /// <summary>Registers a singleton <see cref="IChatClient"/> made by <paramref name="factory"/> (e.g. over a model the application loaded itself).</summary>
    public static ChatClientBuilder AddLlamaChatClient(this IServiceCollection services, Func<IServiceProvider, LlamaChatClient> factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        return services.AddChatClient(factory);
    }

    /// <summary>
    /// Registers a singleton <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings over <paramref name="model"/>
    /// (a path, name or Hugging Face id; null: the default model) on <paramref name="engine"/>, opened when first resolved.
    /// </summary>
    public static EmbeddingGeneratorBuilder<string, Embedding<float>> AddLlamaEmbeddingGenerator(this IServiceCollection services, string? model,
        EngineKind engine = EngineKind.Managed, EmbeddingOptions? options = null, EngineOptions? engineOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options?.Validate();
        return services.AddEmbeddingGenerator<string, Embedding<float>>(_ => LlamaEmbeddingGenerator.Open(model, engine, options, engineOptions));
    }

    /// <summary>Registers a singleton <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> made by <paramref name="factory"/>.</summary>
    public static EmbeddingGeneratorBuilder<string, Embedding<float>> AddLlamaEmbeddingGenerator(this IServiceCollection services,
        Func<IServiceProvider, LlamaEmbeddingGenerator> factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        return services.AddEmbeddingGenerator<string, Embedding<float>>(factory);
    }
}
