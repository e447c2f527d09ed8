using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.OnnxEngine;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;

namespace MlPipelines.AI.Tests;

/// <summary>The embedding generator against the library's <see cref="Embedder"/>, and the DI registrations.</summary>
public class EmbeddingAndServicesTests(ExportedStoriesFixture exported) : IClassFixture<ExportedStoriesFixture>
{
    private static readonly string[] Texts = ["Once upon a time", "The cat sat.", "", "Lily and Ben went to the park to play."];

    [Theory]
    [InlineData(Pooling.Mean, true, 16)]
    [InlineData(Pooling.LastToken, false, 3)]
    [InlineData(Pooling.FirstToken, true, 1)]
    public async Task Embeddings_equal_the_embedders_vectors_for_the_same_options(Pooling pooling, bool normalize, int batchSize)
    {
        using LoadedModel stories = Reference.Stories();
        var options = new EmbeddingOptions { Pooling = pooling, Normalize = normalize, BatchSize = batchSize };
        using var generator = new LlamaEmbeddingGenerator(stories, options);
        float[][] expected = new Embedder(stories.Model, stories.Tokenizer, options).Embed(Texts);

        GeneratedEmbeddings<Embedding<float>> embeddings = await generator.GenerateAsync(Texts);

        Assert.Equal(Texts.Length, embeddings.Count);
        for (int i = 0; i < Texts.Length; i++)
            Assert.Equal(expected[i], embeddings[i].Vector.ToArray());
        Assert.Equal(Texts.Sum(t => stories.Tokenizer.Encode(t, addBos: true, addEos: false).Length), embeddings.Usage?.InputTokenCount);
    }

    [Fact]
    public async Task On_the_onnx_engine_embeddings_equal_the_embedder_there()
    {
        using LoadedModel stories = Reference.Stories();
        using var generator = new LlamaEmbeddingGenerator(exported.Onnx, stories.Tokenizer);
        float[][] expected = new Embedder(exported.Onnx, stories.Tokenizer).Embed(Texts);
        GeneratedEmbeddings<Embedding<float>> embeddings = await generator.GenerateAsync(Texts);
        Assert.Equal(expected, embeddings.Select(e => e.Vector.ToArray()));
    }

    [Fact]
    public async Task Metadata_dimensions_and_bad_requests()
    {
        using LoadedModel stories = Reference.Stories();
        using var generator = new LlamaEmbeddingGenerator(stories, modelId: "stories");
        EmbeddingGeneratorMetadata metadata = Assert.IsType<EmbeddingGeneratorMetadata>(generator.GetService(typeof(EmbeddingGeneratorMetadata)));
        Assert.Equal(("mlpipelines", "stories", 64), (metadata.ProviderName, metadata.DefaultModelId, metadata.DefaultModelDimensions));
        Assert.Same(stories.Model, generator.GetService<ILanguageModel>());
        var e = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 32 }));
        Assert.Contains("64 dimensions", e.Message);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(["x"], cancellationToken: new CancellationToken(true)));
    }

    [Fact]
    public async Task The_registered_chat_client_resolves_composes_with_middleware_and_replies_as_the_generator()
    {
        var services = new ServiceCollection();
        // Middleware from Microsoft.Extensions.AI: every request gets greedy decoding and at most 12 tokens.
        services.AddLlamaChatClient(TestPaths.Stories260K, EngineKind.Managed, new LlamaChatClientOptions { ModelId = "stories" })
            .ConfigureOptions(o => (o.Temperature, o.MaxOutputTokens) = (0, 12));
        IChatClient client;
        string text;
        using (ServiceProvider provider = services.BuildServiceProvider())
        {
            client = provider.GetRequiredService<IChatClient>();
            ChatResponse response = await client.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 1 });
            text = response.Text;
            Assert.Equal(ChatFinishReason.Length, response.FinishReason);
            Assert.Equal(12, response.Usage?.OutputTokenCount);
            Assert.Equal("stories", client.GetService<ChatClientMetadata>()?.DefaultModelId);
            Assert.NotNull(client.GetService<LlamaChatClient>());
        }
        using LoadedModel stories = Reference.Stories();
        Assert.Equal(Reference.Generate(stories.Model, stories.Tokenizer, Reference.Plain(stories.Tokenizer, "Once upon a time"), SamplingOptions.Greedy, 12).Text, text);
    }

    [Fact]
    public async Task The_registered_embedding_generator_resolves_and_embeds_as_the_embedder()
    {
        var services = new ServiceCollection();
        var options = new EmbeddingOptions { Pooling = Pooling.LastToken };
        services.AddLlamaEmbeddingGenerator(TestPaths.Stories260K, EngineKind.Managed, options);
        using ServiceProvider provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();

        GeneratedEmbeddings<Embedding<float>> embeddings = await generator.GenerateAsync(Texts);

        using LoadedModel stories = Reference.Stories();
        Assert.Equal(new Embedder(stories.Model, stories.Tokenizer, options).Embed(Texts), embeddings.Select(e => e.Vector.ToArray()));
        Assert.Equal(64, generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelDimensions);
    }
}
