using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Hub;

/// <summary>
/// Where and how <see cref="HubClient"/> talks to the Hugging Face Hub and which files it downloads.
/// <see cref="FromEnvironment"/> reads the same environment variables as <c>huggingface_hub</c>.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The public Hub, used when <c>HF_ENDPOINT</c> is not set.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>
    /// The files a model needs when <see cref="Include"/> is not given: configuration, safetensors weights (and
    /// their shard index) and the tokenizer files.
    /// </summary>
    public static IReadOnlyList<string> DefaultInclude { get; } =
    [
        "config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json",
        "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
    ];

    /// <summary>The Hub's base address (<c>HF_ENDPOINT</c>), without a trailing slash.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Access token sent as <c>Authorization: Bearer</c> to the Hub (not to other hosts); null for none.</summary>
    public string? Token { get; init; }

    /// <summary>Never touch the network: resolve the snapshot from the cache or fail (<c>HF_HUB_OFFLINE</c>).</summary>
    public bool Offline { get; init; }

    /// <summary>The hub cache directory; null for <see cref="HuggingFaceCache.HubDirectory"/>.</summary>
    public string? HubDirectory { get; init; }

    /// <summary>
    /// fnmatch-style globs of the files to download (see <see cref="GlobPattern"/>); when given they replace
    /// <see cref="DefaultInclude"/>. Null or empty for the default list.
    /// </summary>
    public IReadOnlyList<string>? Include { get; init; }

    /// <summary>Globs of files to leave out, applied after <see cref="Include"/>.</summary>
    public IReadOnlyList<string>? Exclude { get; init; }

    /// <summary>
    /// Attempts per request before giving up on rate limiting (429), server errors (5xx) and dropped connections.
    /// A dropped download resumes where it stopped, so each attempt continues the previous one.
    /// </summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The first retry waits this long, each later one twice as long (unless the Hub sends <c>Retry-After</c>).</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between attempts, also the cap on the Hub's <c>Retry-After</c>.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long establishing a connection may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the Hub may stay silent: waiting for response headers or between two reads of a body. A body as a
    /// whole has no time limit (multi-gigabyte files take as long as they take).
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Options from the environment, as <c>huggingface_hub</c> reads it: <c>HF_ENDPOINT</c>; <c>HF_TOKEN</c>, else
    /// the token file (<c>HF_TOKEN_PATH</c>, else <c>{HF_HOME}/token</c>); <c>HF_HUB_OFFLINE</c> (1/true/yes/on);
    /// and the cache directory of <see cref="HuggingFaceCache.HubDirectory"/>.
    /// </summary>
    public static HubOptions FromEnvironment() => new()
    {
        Endpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } endpoint
            ? endpoint.Trim().TrimEnd('/')
            : DefaultEndpoint,
        Token = ReadToken(),
        Offline = IsTrue(Environment.GetEnvironmentVariable("HF_HUB_OFFLINE")),
        HubDirectory = HuggingFaceCache.HubDirectory(),
    };

    /// <summary><c>huggingface_hub</c>'s truthy environment values: 1, true, yes, on (any case).</summary>
    internal static bool IsTrue(string? value) =>
        value?.Trim().ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";

    private static string? ReadToken()
    {
        if (Environment.GetEnvironmentVariable("HF_TOKEN") is { } env && env.Trim() is { Length: > 0 } token)
            return token;
        string file = Environment.GetEnvironmentVariable("HF_TOKEN_PATH") is { Length: > 0 } path
            ? path
            : Path.Combine(HuggingFaceCache.HomeDirectory(), "token");
        try
        {
            return File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } saved ? saved : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;   // an unreadable token file means no token, as in huggingface_hub
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first property with an unusable value.</summary>
    internal void Validate()
    {
        if (!Uri.TryCreate(Endpoint, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"{nameof(Endpoint)} must be an absolute http(s) address, got '{Endpoint}'");
        if (MaxAttempts < 1)
            throw new ArgumentException($"{nameof(MaxAttempts)} must be at least 1, got {MaxAttempts}");
        if (RetryBaseDelay < TimeSpan.Zero || MaxRetryDelay < TimeSpan.Zero)
            throw new ArgumentException($"{nameof(RetryBaseDelay)} and {nameof(MaxRetryDelay)} must not be negative");
        if (ConnectTimeout <= TimeSpan.Zero || ReadTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(ConnectTimeout)} and {nameof(ReadTimeout)} must be positive");
        foreach (string glob in (Include ?? []).Concat(Exclude ?? []))
            if (string.IsNullOrEmpty(glob))
                throw new ArgumentException($"{nameof(Include)} and {nameof(Exclude)} must not contain empty patterns");
    }
}
