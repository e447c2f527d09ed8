using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>A LLaMA transform as written into a saved pipeline: its kind, its options and its model.</summary>
internal sealed record StageSettings(string Kind, JsonNode Options, LlamaModelReference Model)
{
    /// <summary>The second model of a parity stage.</summary>
    public LlamaModelReference? Candidate { get; init; }

    public const string Tokenize = "llama.tokenize";
    public const string Embed = "llama.embed";
    public const string Generate = "llama.generate";
    public const string Parity = "llama.parity";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static StageSettings Of(LlamaTransformerBase transformer, object options) => new(
        transformer switch
        {
            LlamaTokenizeTransformer => Tokenize,
            LlamaEmbedTransformer => Embed,
            LlamaGenerateTransformer => Generate,
            LlamaParityTransformer => Parity,
            _ => throw new NotSupportedException(transformer.GetType().Name),
        },
        JsonSerializer.SerializeToNode(options, options.GetType(), Json)!,
        transformer.Model);

    /// <summary>Recreates the transformer from saved settings and a reference to the verified model files.</summary>
    public static LlamaTransformerBase Create(string kind, JsonNode options, LlamaModelReference model, LlamaModelReference? candidate) => kind switch
    {
        Parity => new LlamaParityTransformer(model, candidate ?? throw new InvalidDataException("A parity stage records no second model."),
            Read<LlamaParityOptions>(options, kind)),
        Tokenize => new LlamaTokenizeTransformer(model, Read<LlamaTokenizeOptions>(options, kind)),
        Embed => new LlamaEmbedTransformer(model, Read<LlamaEmbedOptions>(options, kind)),
        Generate => new LlamaGenerateTransformer(model, Read<LlamaGenerateOptions>(options, kind)),
        _ => throw new InvalidDataException($"Unknown pipeline stage kind '{kind}'."),
    };

    private static T Read<T>(JsonNode node, string kind) =>
        node.Deserialize<T>(Json) ?? throw new InvalidDataException($"The options of a '{kind}' stage are empty.");
}
