namespace MlPipelines.Cli;

/// <summary>
/// The library names the settings a user can change in its own terms (an options type and property); on the command
/// line those settings are flags. Error messages are translated here, in one place, before they are printed.
/// </summary>
internal static class LibraryTerms
{
    private static readonly (string Library, string Flag)[] Flags =
    [
        ("EmbedJobOptions.Restart", "--restart"),
        ("EmbedJobOptions.Column", "--column"),
        ("EmbedClusterOptions.ConnectionString", "--connection-string"),
        ("EmbedJobOptions.OutputFormat", "--output-format"),
        ("EngineOptions.FallbackToCpu", "--fallback-to-cpu"),
        ("EngineOptions.Threads", "--threads"),
        ("EngineOptions.Quantize", "--quantize"),
        ("EngineOptions.KvCache", "--kv"),
        ("EngineOptions.Provider", "--provider"),
        ("OnnxExportOptions.Force", "--force"),
        ("OpenAiServerOptions.Host", "--host"),
        ("OpenAiServerOptions.Port", "--port"),
        ("OpenAiServerOptions.MaxConcurrentRequests", "--parallel"),
        ("OpenAiServerOptions.MaxQueuedRequests", "--queue"),
        ("OpenAiServerOptions.ApiKey", "--api-key"),
        ("set overwrite to replace", "pass --force to replace"),
        ("the tokenizer explicitly", "the tokenizer with --tokenizer"),
    ];

    /// <summary><paramref name="message"/> with each library setting it names replaced by the flag that sets it.</summary>
    public static string ToFlags(string message)
    {
        foreach (var (library, flag) in Flags)
            message = message.Replace(library, flag, StringComparison.Ordinal);
        return message;
    }
}
