using System.Text.Json;
using System.Text.Json.Serialization;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>The model a benchmark ran, as recorded in its report.</summary>
/// <param name="Name">The shape name (<c>15m</c>…) or the model's file/directory name.</param>
/// <param name="Path">The checkpoint or export directory measured.</param>
/// <param name="Synthetic">True for a random-weight checkpoint of a named shape.</param>
/// <param name="Config">Its configuration.</param>
/// <param name="Parameters">Number of weights (fp32 values).</param>
/// <param name="FileBytes">Size of the model's files on disk, summed (for a Hugging Face directory config.json and the safetensors files).</param>
public sealed record BenchmarkModelInfo(string Name, string Path, bool Synthetic, ModelConfig Config, long Parameters, long FileBytes)
{
    /// <summary>How the weights are stored in the model's files (null: not recorded); each row says how its engine held them.</summary>
    public ModelWeightFormat? WeightFormat { get; init; }

    /// <summary>The number of weights a LLaMA model of this configuration holds.</summary>
    public static long ParameterCount(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        long dim = c.Dim, kv = c.KvDim, hidden = c.HiddenDim;
        long perLayer = 2 * dim + 2 * dim * dim + 2 * dim * kv + 3 * dim * hidden;
        long embedding = (long)c.VocabSize * dim;
        return embedding + c.LayerCount * perLayer + dim + (c.SharedClassifier ? 0 : embedding);
    }
}

/// <summary>A benchmark's results with everything needed to compare them later: machine, model, settings, date.</summary>
public sealed record BenchmarkReport
{
    /// <summary>When the benchmark finished.</summary>
    public required DateTimeOffset Date { get; init; }

    /// <summary>The machine it ran on.</summary>
    public required MachineInfo Machine { get; init; }

    /// <summary>The model it ran.</summary>
    public required BenchmarkModelInfo Model { get; init; }

    /// <summary>False when the engines ran a Debug build, whose numbers are not representative.</summary>
    public bool OptimizedBuild { get; init; } = BuildInfo.IsOptimized;

    /// <summary>The weight quantization asked for (null: fp32).</summary>
    public string? Quantization { get; init; }

    /// <summary>What was measured and how often.</summary>
    public required BenchmarkOptions Options { get; init; }

    /// <summary>The command line that produced it, when known.</summary>
    public string? Command { get; init; }

    /// <summary>One row per engine and thread count.</summary>
    public required IReadOnlyList<BenchmarkRow> Rows { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The report as indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> through a temporary file, so no partial report is ever left.</summary>
    public void WriteJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        MlPipelines.ManagedEngine.IO.AtomicFileWriter.WriteAllText(path, ToJson());
    }

    /// <summary>
    /// Writes the machine and model lines and a Markdown table (one row per engine and thread count; each cell
    /// the median tokens/s with the min–max of the runs), ready to paste into <c>docs/benchmarks.md</c>.
    /// </summary>
    public void WriteTable(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        BenchmarkTable.Write(this, writer);
    }
}
