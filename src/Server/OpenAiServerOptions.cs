namespace MlPipelines.Server;

/// <summary>Settings of an <see cref="OpenAiServer"/>.</summary>
public sealed record OpenAiServerOptions
{
    /// <summary>The address to listen on: an IP address or a host name. Default 127.0.0.1 (this machine only).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 = any free port (read the one chosen from <see cref="OpenAiServer.Address"/>). Default 8080.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every <c>/v1</c> request must carry <c>Authorization: Bearer {ApiKey}</c>; null: no key.</summary>
    public string? ApiKey { get; init; }

    /// <summary>
    /// How many requests run at once; null: the chat client's own session limit
    /// (<see cref="AI.LlamaChatClientOptions.MaxConcurrentSessions"/>), else 1.
    /// </summary>
    public int? MaxConcurrentRequests { get; init; }

    /// <summary>How many further requests may wait for a free slot; beyond that a request is refused at once with 429. Default 16.</summary>
    public int MaxQueuedRequests { get; init; } = 16;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
            throw new ArgumentException("OpenAiServerOptions.Host must name an address to listen on.", nameof(Host));
        if (Port is < 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "OpenAiServerOptions.Port must be in 0..65535 (0 = any free port).");
        if (MaxConcurrentRequests is < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentRequests), MaxConcurrentRequests, "OpenAiServerOptions.MaxConcurrentRequests must be ≥ 1.");
        if (MaxQueuedRequests < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedRequests), MaxQueuedRequests, "OpenAiServerOptions.MaxQueuedRequests must be ≥ 0.");
        if (ApiKey is { Length: 0 })
            throw new ArgumentException("OpenAiServerOptions.ApiKey is empty; give a key or none.", nameof(ApiKey));
    }
}
