using System.Text.Json;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// The description of another tool's export, made from what that tool writes beside its graph (there is no
/// <c>mlpipe.json</c>): Optimum and the Hugging Face Hub keep the model's <c>config.json</c> (beside the graph, or above
/// the Hub's <c>onnx/</c> folder); onnxruntime-genai's builder writes only <c>genai_config.json</c>, whose
/// <c>model</c> section has the shape the graph's inputs need (not the feed-forward width, which the graph holds and the
/// engine never needs: <see cref="ModelConfig.HiddenDim"/> is then 0). The tokenizer is the first of
/// <c>tokenizer.json</c> and <c>tokenizer.model</c> found there. The manifest's <see cref="ExportManifest.Source"/> is the
/// configuration file it was made from.
/// </summary>
internal static class ForeignExportManifest
{
    /// <summary>The profile name of a manifest made here.</summary>
    public const string Profile = "foreign";

    /// <summary>Describes the export whose decoder is <paramref name="decoderFile"/>.</summary>
    /// <exception cref="FileNotFoundException">Neither <c>config.json</c> nor <c>genai_config.json</c> is there.</exception>
    /// <exception cref="InvalidDataException">The configuration is malformed; the message names the field.</exception>
    public static ExportManifest Read(string decoderFile)
    {
        string decoderDirectory = Path.GetDirectoryName(Path.GetFullPath(decoderFile))!;
        string directory = OnnxExportLayout.ConfigurationDirectory(decoderFile);
        string config = Path.Combine(directory, HuggingFaceCheckpoint.ConfigFileName);
        string genAi = Path.Combine(directory, OnnxExportLayout.GenAiConfigFileName);
        ModelConfig modelConfig;
        string source;
        if (File.Exists(config))
            (modelConfig, source) = (HuggingFaceConfig.Load(config).ToModelConfig(), config);
        else if (File.Exists(genAi))
            (modelConfig, source) = (FromGenAiConfig(genAi), genAi);
        else
            throw new FileNotFoundException(
                $"'{decoderDirectory}' is not an exported model directory: it has neither {ExportManifest.FileName} (`mlpipe export`), nor the " +
                $"config.json Optimum writes beside model.onnx, nor onnxruntime-genai's {OnnxExportLayout.GenAiConfigFileName}.",
                Path.Combine(decoderDirectory, ExportManifest.FileName));
        string? tokenizer = new[] { "tokenizer.json", "tokenizer.model" }
            .Select(name => Path.Combine(directory, name)).FirstOrDefault(File.Exists);
        return new ExportManifest
        {
            Config = modelConfig,
            TokenizerFile = tokenizer is null ? null : Path.GetRelativePath(decoderDirectory, tokenizer),
            Profile = Profile,
            Weights = "as exported",   // no manifest says; the graph holds them in whatever form its tool chose
            Source = source,
        };
    }

    /// <summary>
    /// The shape in onnxruntime-genai's configuration: <c>model.decoder</c>'s <c>hidden_size</c>, <c>head_size</c>,
    /// <c>num_attention_heads</c>, <c>num_key_value_heads</c>, <c>num_hidden_layers</c>; <c>model</c>'s <c>vocab_size</c>,
    /// <c>context_length</c>, <c>bos_token_id</c> and <c>eos_token_id</c> (one id or a list).
    /// </summary>
    internal static ModelConfig FromGenAiConfig(string path)
    {
        using JsonDocument document = SmallJsonFile.ReadObject(path, OnnxExportLayout.MaxGenAiConfigBytes, "an onnxruntime-genai configuration");
        var root = new ConfigFields(document.RootElement, path);
        ConfigFields model = root.OptionalObject("model") ?? throw Missing(path, "model");
        ConfigFields decoder = model.OptionalObject("decoder") ?? throw Missing(path, "model.decoder");
        int heads = Positive(decoder, "num_attention_heads");
        int dim = Positive(decoder, "hidden_size");
        int headSize = decoder.OptionalInt("head_size") ?? (dim % heads == 0 ? dim / heads : throw Missing(path, "model.decoder.head_size"));
        if (headSize <= 0) throw new InvalidDataException($"{decoder.Path}: head_size = {headSize}; expected a positive integer.");
        int kvHeads = decoder.Int("num_key_value_heads", heads);
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw new InvalidDataException($"{decoder.Path}: num_key_value_heads = {kvHeads}; expected a positive divisor of num_attention_heads ({heads}).");
        IReadOnlyList<int> eos = model.TokenIds("eos_token_id");
        return new ModelConfig
        {
            Dim = dim,
            HiddenDim = 0,
            LayerCount = Positive(decoder, "num_hidden_layers"),
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadDim = headSize == dim / heads ? 0 : headSize,
            VocabSize = Positive(model, "vocab_size"),
            MaxSequenceLength = Positive(model, "context_length"),
            BosId = model.TokenId("bos_token_id", 1),
            EosId = eos.Count > 0 ? eos[0] : 2,
            StopIds = new TokenIdList(eos.Skip(1).Where(id => id != eos[0])),
        };
    }

    private static int Positive(ConfigFields fields, string name)
    {
        int value = fields.Int(name);
        return value > 0 ? value : throw new InvalidDataException($"{fields.Path}: {name} = {value}; expected a positive integer.");
    }

    private static InvalidDataException Missing(string path, string field) =>
        new($"{path}: {field} is missing; expected onnxruntime-genai's description of the decoder.");
}
