using System.Globalization;
using MlPipelines.ManagedEngine.Embeddings;

namespace MlPipelines.Pipelines.EmbedJobs;

/// <summary>
/// Everything that determines an embedding job's output, as named values. A resume must see the same
/// values: otherwise the rows already written and the rows still to come would not belong together.
/// </summary>
public static class JobFingerprint
{
    /// <summary>The fingerprint of a job run with <paramref name="embedder"/> and <paramref name="options"/>.</summary>
    public static SortedDictionary<string, string> Create(EmbedJobOptions options, Embedder embedder)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(embedder);
        var input = new FileInfo(options.InputPath);
        EmbeddingOptions e = embedder.Options;
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["input"] = input.FullName,
            // Size and modification time stand in for the content: hashing a large input on every resume
            // would cost as much as reading it, and an edited file almost surely changes one of them.
            ["input size"] = input.Exists ? input.Length.ToString(CultureInfo.InvariantCulture) : "missing",
            ["input modified"] = input.Exists ? input.LastWriteTimeUtc.ToString("O", CultureInfo.InvariantCulture) : "missing",
            ["input format"] = options.EffectiveInputFormat.ToString(),
            ["column"] = options.EffectiveInputFormat == EmbedInputFormat.Text ? "" : options.Column,
            ["output format"] = options.EffectiveOutputFormat.ToString(),
            ["model"] = options.ModelIdentity,
            ["dimension"] = embedder.Dimension.ToString(CultureInfo.InvariantCulture),
            ["pooling"] = e.Pooling.ToString(),
            ["normalize"] = e.Normalize ? "true" : "false",
            ["add bos"] = e.AddBos ? "true" : "false",
            ["max tokens"] = embedder.MaxTokens.ToString(CultureInfo.InvariantCulture),
            // Rows batched together may differ in the last bits on a padded engine; resuming with the same
            // batch size keeps the batches, and so the bytes, those of an uninterrupted run.
            ["batch size"] = e.BatchSize.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>
    /// A description of a file, or of a directory's files, by path, size and modification time: a cheap
    /// identity for model files in <see cref="EmbedJobOptions.ModelIdentity"/>.
    /// </summary>
    public static string DescribeFiles(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        IEnumerable<FileInfo> files = Directory.Exists(path)
            ? new DirectoryInfo(path).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal)
            : [new FileInfo(path)];
        return string.Join("; ", files.Select(f => f.Exists
            ? $"{f.FullName} ({f.Length.ToString(CultureInfo.InvariantCulture)} bytes, {f.LastWriteTimeUtc.ToString("O", CultureInfo.InvariantCulture)})"
            : $"{f.FullName} (missing)"));
    }

    /// <summary>The entries that differ between two fingerprints, as "name: old → new".</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> now) =>
        before.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(k => before.GetValueOrDefault(k) != now.GetValueOrDefault(k))
            .Select(k => $"{k}: {before.GetValueOrDefault(k) ?? "(none)"} → {now.GetValueOrDefault(k) ?? "(none)"}")
            .ToList();
}
