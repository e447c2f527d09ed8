using System.Text.Json;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// A model's <c>generation_config.json</c>: the sampling settings its authors chose (Llama 3.2 Instruct: sampling at
/// temperature 0.6, top-p 0.9) and the extra end-of-sequence ids. Fields absent from the file take transformers'
/// <c>GenerationConfig</c> defaults: no sampling (greedy), temperature 1, top-k 50, top-p 1.
/// </summary>
public sealed record HuggingFaceGenerationConfig
{
    /// <summary>The file name, beside config.json.</summary>
    public const string FileName = "generation_config.json";

    private const long MaxFileBytes = 1 << 20;

    /// <summary><c>do_sample</c>: sample (true) or decode greedily (false, the default).</summary>
    public bool DoSample { get; init; }

    /// <summary><c>temperature</c> (default 1).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary><c>top_p</c> (default 1: off).</summary>
    public float TopP { get; init; } = 1f;

    /// <summary><c>top_k</c> (default 50; 0 off).</summary>
    public int TopK { get; init; } = 50;

    /// <summary><c>max_new_tokens</c>, or null when the file does not limit replies.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary><c>eos_token_id</c>: one id or a list (empty when absent).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>The sampler settings the file asks for: greedy unless <see cref="DoSample"/>; <paramref name="seed"/> carried over.</summary>
    public SamplingOptions ToSamplingOptions(ulong? seed = null) => DoSample
        ? new SamplingOptions { Temperature = Temperature, TopP = TopP, TopK = TopK, Seed = seed }
        : SamplingOptions.Greedy with { Seed = seed };

    /// <summary>Reads <c>generation_config.json</c> from <paramref name="directory"/>; null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or a value is out of range; the message names the field.</exception>
    public static HuggingFaceGenerationConfig? Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            return null;
        using JsonDocument document = SmallJsonFile.ReadObject(path, MaxFileBytes, "a Hugging Face generation configuration");
        var fields = new ConfigFields(document.RootElement, path);
        var config = new HuggingFaceGenerationConfig
        {
            DoSample = fields.Bool("do_sample", false),
            Temperature = fields.Float("temperature", 1f),
            TopP = fields.Float("top_p", 1f),
            TopK = fields.Int("top_k", 50),
            MaxNewTokens = fields.OptionalInt("max_new_tokens"),
            EosTokenIds = fields.TokenIds("eos_token_id"),
        };
        if (!(config.Temperature >= 0)) throw Invalid(path, "temperature", config.Temperature, "a number ≥ 0");
        if (!(config.TopP >= 0)) throw Invalid(path, "top_p", config.TopP, "a number ≥ 0");
        if (config.TopK < 0) throw Invalid(path, "top_k", config.TopK, "an integer ≥ 0");
        if (config.MaxNewTokens is < 1) throw Invalid(path, "max_new_tokens", config.MaxNewTokens, "a positive integer");
        return config;
    }

    private static InvalidDataException Invalid(string path, string field, object? value, string expected) =>
        new($"{path}: {field} = {value}; expected {expected}");
}
