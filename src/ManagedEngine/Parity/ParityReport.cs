using System.Text.Json;
using System.Text.Json.Serialization;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.ManagedEngine.Parity;

/// <summary>
/// The result of <see cref="ParityHarness.Compare"/>: per-prompt rows, overall figures and a verdict
/// against the thresholds in <see cref="Options"/>.
/// </summary>
public sealed record ParityReport
{
    /// <summary>A description of model A (the reference).</summary>
    public required string ModelA { get; init; }

    /// <summary>A description of model B (the one under test).</summary>
    public required string ModelB { get; init; }

    /// <summary>The options and thresholds used.</summary>
    public required ParityOptions Options { get; init; }

    /// <summary>One row per prompt, in input order.</summary>
    public required IReadOnlyList<PromptParity> Prompts { get; init; }

    /// <summary>Logit differences over all prompts' positions and compared steps.</summary>
    public required LogitStats Logits { get; init; }

    /// <summary>Largest absolute logit difference anywhere.</summary>
    public double MaxAbsLogitDiff => Logits.MaxAbsDiff;

    /// <summary>Mean absolute logit difference over every logit compared.</summary>
    public double MeanAbsLogitDiff => Logits.MeanAbsDiff;

    /// <summary>Argmax agreement over every position compared.</summary>
    public double Top1Agreement => Logits.Top1Agreement;

    /// <summary>Prompts whose greedy continuations are identical.</summary>
    public int IdenticalContinuations => Prompts.Count(p => p.Continuation.Identical);

    /// <summary>
    /// False when an engine gives no hidden states (a logits-only ONNX graph): the embeddings were not compared, each
    /// prompt's cosine is NaN and the cosine threshold does not apply.
    /// </summary>
    public bool EmbeddingsCompared { get; init; } = true;

    /// <summary>The smallest embedding cosine similarity over the prompts (NaN when the embeddings were not compared).</summary>
    public double MinCosine => !EmbeddingsCompared ? double.NaN : Prompts.Count == 0 ? 1 : Prompts.Min(p => p.EmbeddingCosine);

    /// <summary>True when the logits stay within <see cref="ParityOptions.MaxAbsLogitDiff"/>.</summary>
    public bool LogitsWithinTolerance => MaxAbsLogitDiff <= Options.MaxAbsLogitDiff;

    /// <summary>True when every embedding cosine is at least <see cref="ParityOptions.MinCosine"/>.</summary>
    public bool CosineWithinTolerance => !EmbeddingsCompared || MinCosine >= Options.MinCosine;

    /// <summary>True when every prompt's greedy continuations are identical.</summary>
    public bool GreedyIdentical => IdenticalContinuations == Prompts.Count;

    /// <summary>Why the comparison failed: one sentence per threshold exceeded, naming the figure and the worst prompt.</summary>
    public IReadOnlyList<string> Failures => ParityVerdict.Failures(this);

    /// <summary>True when every threshold holds.</summary>
    public bool Passed => Failures.Count == 0;

    /// <summary>Time the comparison took.</summary>
    public TimeSpan Elapsed { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // A NaN from either engine is reported as an infinite difference; JSON needs a spelling for it.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The report as indented JSON (camelCase; computed figures and the verdict included).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>
    /// Writes the report as a plain-text table: one row per prompt, an overall row, notes on diverged
    /// continuations, the thresholds and the verdict with its reasons.
    /// </summary>
    public void WriteText(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ParityTable.Write(this, writer);
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> through a temporary file, so no partial report is ever left.</summary>
    public void WriteJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        MlPipelines.ManagedEngine.IO.AtomicFileWriter.WriteAllText(path, ToJson());
    }
}
