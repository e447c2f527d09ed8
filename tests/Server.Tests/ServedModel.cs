using System.ClientModel;
using Microsoft.Extensions.AI;
using MlPipelines.AI;
using MlPipelines.AI.Tests;
using MlPipelines.OnnxEngine;
using OpenAI;

namespace MlPipelines.Server.Tests;

/// <summary>
/// stories260K served on 127.0.0.1 (any free port) by an <see cref="OpenAiServer"/>, and beside it the reference: a
/// <see cref="LlamaChatClient"/> and <see cref="LlamaEmbeddingGenerator"/> of their own over the same model, called directly.
/// </summary>
internal sealed class ServedModel : IAsyncDisposable
{
    public const string ModelId = "stories260K";

    private ServedModel(LoadedModel model, LlamaChatClient chat, LlamaEmbeddingGenerator embeddings, OpenAiServer server)
    {
        Model = model;
        Chat = chat;
        Embeddings = embeddings;
        Server = server;
        ReferenceChat = new LlamaChatClient(model, new LlamaChatClientOptions { ModelId = ModelId });
        ReferenceEmbeddings = new LlamaEmbeddingGenerator(model, modelId: ModelId);
    }

    public LoadedModel Model { get; }
    public LlamaChatClient Chat { get; }
    public LlamaEmbeddingGenerator Embeddings { get; }
    public OpenAiServer Server { get; }
    public LlamaChatClient ReferenceChat { get; }
    public LlamaEmbeddingGenerator ReferenceEmbeddings { get; }

    /// <summary>Starts a server; <paramref name="wrap"/> may put a test's own client in front of the served one (disposed with it).</summary>
    public static async Task<ServedModel> StartAsync(OpenAiServerOptions? options = null, int parallel = 1, Func<IChatClient, IChatClient>? wrap = null)
    {
        LoadedModel model = Reference.Stories();
        var chat = new LlamaChatClient(model, new LlamaChatClientOptions { ModelId = ModelId, MaxConcurrentSessions = parallel });
        var embeddings = new LlamaEmbeddingGenerator(model, modelId: ModelId);
        IChatClient? wrapped = wrap?.Invoke(chat);
        OpenAiServer server = await OpenAiServer.StartAsync(wrapped ?? chat, embeddings, (options ?? new OpenAiServerOptions()) with { Host = "127.0.0.1", Port = 0 });
        return new ServedModel(model, chat, embeddings, server);
    }

    /// <summary>The OpenAI client's options pointed at this server's <c>/v1</c>.</summary>
    public OpenAIClientOptions ClientOptions => new() { Endpoint = new Uri(Server.Address, "v1") };

    /// <summary>The official OpenAI chat client as an <see cref="IChatClient"/>.</summary>
    public IChatClient OpenAiChat(string apiKey = "no-key") =>
        new OpenAI.Chat.ChatClient(ModelId, new ApiKeyCredential(apiKey), ClientOptions).AsIChatClient();

    /// <summary>The official OpenAI embedding client as an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.</summary>
    public IEmbeddingGenerator<string, Embedding<float>> OpenAiEmbeddings() =>
        new OpenAI.Embeddings.EmbeddingClient(ModelId, new ApiKeyCredential("no-key"), ClientOptions).AsIEmbeddingGenerator();

    /// <summary>A raw HTTP client with the server's address as its base.</summary>
    public HttpClient Http() => new() { BaseAddress = Server.Address };

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Chat.Dispose();
        Embeddings.Dispose();
        ReferenceChat.Dispose();
        ReferenceEmbeddings.Dispose();
        Model.Dispose();
    }
}
