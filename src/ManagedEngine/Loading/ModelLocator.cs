namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// Finds model files from what a user typed: an explicit path, or a model name looked up, in order, in
/// <c>models/</c> under the working directory, the <c>models/</c> folder shipped beside the program, the
/// directory named by <c>MLPIPE_MODELS</c>, and last — for Hub ids <c>org/name[@revision]</c> — the Hugging Face
/// cache (see <see cref="HuggingFaceCache"/>), without touching the network.
/// </summary>
public static class ModelLocator
{
    /// <summary>The model used when none is named.</summary>
    public const string DefaultModelName = "stories260K";

    /// <summary>The environment variable naming an extra model directory.</summary>
    public const string ModelsEnvironmentVariable = "MLPIPE_MODELS";

    /// <summary>The name of the model folders searched in the working directory and beside the program.</summary>
    public const string ModelsFolderName = "models";

    private static readonly AsyncLocal<List<string>?> Watch = new();

    /// <summary>
    /// Records every name resolved by the current flow of execution (this thread and the tasks it starts) until the
    /// returned scope is disposed: a diagnostic for the rule that a command resolves each model once.
    /// </summary>
    public static ResolutionLog RecordResolutions() => new(Watch);

    /// <summary>The names resolved while it was open (see <see cref="RecordResolutions"/>).</summary>
    public sealed class ResolutionLog : IDisposable
    {
        private readonly AsyncLocal<List<string>?> _slot;
        private readonly List<string>? _outer;
        private readonly List<string> _names = [];

        internal ResolutionLog(AsyncLocal<List<string>?> slot)
        {
            _slot = slot;
            _outer = slot.Value;
            slot.Value = _names;
        }

        /// <summary>The names, in the order they were resolved.</summary>
        public IReadOnlyList<string> Names
        {
            get { lock (_names) return _names.ToList(); }
        }

        /// <inheritdoc />
        public void Dispose() => _slot.Value = _outer;
    }

    /// <summary>The local directories searched for a model name, in order (existing or not).</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>
        {
            Path.GetFullPath(ModelsFolderName),
            Path.Combine(AppContext.BaseDirectory, ModelsFolderName),
        };
        if (Environment.GetEnvironmentVariable(ModelsEnvironmentVariable) is { Length: > 0 } env)
            dirs.Add(Path.GetFullPath(env));
        return dirs.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Resolves <paramref name="nameOrPath"/> (null: the default model) to an existing file or directory. A path
    /// that exists is returned as is; otherwise the name is looked up in <see cref="SearchDirectories"/>, then, when
    /// it is shaped like <c>org/name[@revision]</c>, in the Hugging Face cache.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing matches; the message lists where it looked.</exception>
    public static string Resolve(string? nameOrPath)
    {
        string name = string.IsNullOrWhiteSpace(nameOrPath) ? DefaultModelName : nameOrPath;
        if (Watch.Value is { } log) lock (log) log.Add(name);
        if (File.Exists(name) || Directory.Exists(name))
            return Path.GetFullPath(name);
        if (!Path.IsPathRooted(name))
        {
            foreach (string dir in SearchDirectories())
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                    return candidate;
            }
            if (HuggingFaceCache.TryResolveSnapshot(name) is { } snapshot)
                return snapshot;
        }
        string hub = HuggingFaceCache.TryParseRepoId(name, out string repoId, out string revision)
            ? $", nor '{repoId}' at revision '{revision}' in the Hugging Face cache {HuggingFaceCache.HubDirectory()} (it has not been downloaded)"
            : "";
        throw new FileNotFoundException(
            $"Model '{name}' not found: it is not an existing path, nor a name under any of: {string.Join(", ", SearchDirectories())}{hub}.", name);
    }
}
