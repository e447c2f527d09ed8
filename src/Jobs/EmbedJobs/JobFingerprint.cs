using System.Globalization;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Jobs.EmbedJobs;

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
    /// What makes a loaded model's output what it is, for <see cref="EmbedJobOptions.ModelIdentity"/>: the engine and the
    /// precision it computes in, and the content identity of the model's and tokenizer's files
    /// (<see cref="ResolvedModel.Identity"/>), so the same files resume a job wherever they are.
    /// </summary>
    public static string DescribeModel(LoadedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        EngineDescription engine = model.Model.Description;
        return $"{engine.Engine} {engine.Precision}: {model.Source.Format} sha256 {model.Source.Identity}";
    }

    /// <summary>The entries that differ between two fingerprints, as "name: old → new".</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> now) =>
        before.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(k => before.GetValueOrDefault(k) != now.GetValueOrDefault(k))
            .Select(k => $"{k}: {before.GetValueOrDefault(k) ?? "(none)"} → {now.GetValueOrDefault(k) ?? "(none)"}")
            .ToList();
}
