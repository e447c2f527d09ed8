using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MlPipelines.AI;

namespace MlPipelines.Server;

/// <summary>
/// An OpenAI-compatible HTTP server over an <see cref="IChatClient"/> and (optionally) an
/// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>: <c>POST /v1/chat/completions</c> (whole or streamed as
/// server-sent events), <c>POST /v1/completions</c>, <c>POST /v1/embeddings</c>, <c>GET /v1/models</c> and <c>GET /health</c>.
/// Bad requests get OpenAI's JSON errors with a 4xx status; requests beyond the running slots and the queue get 429; a
/// client that disconnects cancels its generation. The clients are not disposed with the server.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OpenAiServer(WebApplication app, Uri address, string modelId)
    {
        _app = app;
        Address = address;
        ModelId = modelId;
    }

    /// <summary>The address the server listens on, with the port actually bound (e.g. <c>http://127.0.0.1:41234</c>).</summary>
    public Uri Address { get; }

    /// <summary>The model id requests name and <c>/v1/models</c> lists (the chat client's <see cref="ChatClientMetadata.DefaultModelId"/>).</summary>
    public string ModelId { get; }

    /// <summary>Builds the server and starts listening; returns once the port is bound.</summary>
    /// <param name="chat">Generates chat and completion replies; its own session pool runs the admitted requests.</param>
    /// <param name="embeddings">Answers <c>/v1/embeddings</c>; null: that endpoint answers 404.</param>
    /// <param name="options">Address, port, key and queue; null: the defaults.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="IOException">The address cannot be bound (e.g. the port is in use).</exception>
    public static async Task<OpenAiServer> StartAsync(IChatClient chat, IEmbeddingGenerator<string, Embedding<float>>? embeddings,
        OpenAiServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chat);
        options ??= new OpenAiServerOptions();
        options.Validate();
        string modelId = chat.GetService<ChatClientMetadata>()?.DefaultModelId ?? LlamaChatClient.ProviderName;
        int running = options.MaxConcurrentRequests ?? chat.GetService<LlamaChatClient>()?.Options.MaxConcurrentSessions ?? 1;

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        // A library does not choose where its host logs; the CLI prints what a user needs.
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{UrlHost(options.Host)}:{options.Port}");
        WebApplication app = builder.Build();
        new Routes(chat, embeddings, modelId, options.ApiKey, new Admission(running, options.MaxQueuedRequests)).Map(app);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"Cannot listen on {options.Host}:{options.Port}: {e.Message}", e);
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new OpenAiServer(app, new Uri(bound), modelId);
    }

    /// <summary>Waits until the host stops: <see cref="StopAsync"/>, Ctrl+C or SIGTERM (the host's own handling), or <paramref name="cancellationToken"/>.</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken = default)
    {
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopped = new TaskCompletionSource();
        using (lifetime.ApplicationStopping.Register(() => stopped.TrySetResult()))
        using (cancellationToken.Register(() => stopped.TrySetResult()))
            await stopped.Task.ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
    }

    /// <summary>Stops listening and lets requests in flight finish (up to the host's shutdown timeout).</summary>
    public Task StopAsync() => _app.StopAsync();

    /// <summary>Stops the server and releases the host.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A host for a URL: IPv6 literals go in brackets.</summary>
    private static string UrlHost(string host) =>
        IPAddress.TryParse(host, out IPAddress? ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
}
