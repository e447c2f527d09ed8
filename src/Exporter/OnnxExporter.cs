using System.Diagnostics;
using System.Globalization;
using MlPipelines.Exporter.Graph;
using MlPipelines.Exporter.Llama;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.Exporter;

/// <summary>
/// Exports LLaMA weights as an ONNX model directory: <c>model.onnx</c> (plus <c>model.onnx.data</c>
/// with external data), <c>mlpipe.json</c> (<see cref="ExportManifest"/>), the tokenizer if one is given, and what
/// onnxruntime-genai needs to run the directory as it is: <c>genai_config.json</c> and the tokenizer as
/// <c>tokenizer.json</c> + <c>tokenizer_config.json</c> (converted from a SentencePiece or llama2.c vocabulary).
/// The graph's interface is described by <see cref="LlamaOnnxNames"/>.
/// </summary>
public static class OnnxExporter
{
    /// <summary>Exports <paramref name="weights"/> into <paramref name="outputDirectory"/>.</summary>
    /// <param name="weights">The model; it must stay undisposed during the export (weights are read in place).</param>
    /// <param name="outputDirectory">The directory to create (or to replace with <see cref="OnnxExportOptions.Force"/>).</param>
    /// <param name="options">Export options (null: defaults).</param>
    /// <param name="cancellationToken">Stops the export; nothing is left behind.</param>
    /// <returns>The written paths, their sizes and the elapsed time.</returns>
    /// <remarks>
    /// Everything is written into a temporary directory beside the target and moved into place
    /// when complete, so a failed or cancelled export never leaves a partial model behind and an
    /// existing export is replaced only by a complete one.
    /// </remarks>
    /// <exception cref="IOException">The output directory is non-empty and Force is off, or writing failed.</exception>
    /// <exception cref="FileNotFoundException">The tokenizer file does not exist.</exception>
    /// <exception cref="ArgumentException">Quantised or fp16 weights asked of the portable profile, or an accuracy level outside 0–4.</exception>
    /// <exception cref="ArgumentException">The model's shape cannot be exported.</exception>
    public static OnnxExportResult Export(LlamaWeights weights, string outputDirectory, OnnxExportOptions? options = null,
        CancellationToken cancellationToken = default) =>
        ExportCore(weights, outputDirectory, options ?? new OnnxExportOptions(), cancellationToken, beforePublish: null);

    /// <summary>
    /// Exports a GGUF model's matrices as the file stores them (<see cref="MlPipelines.ManagedEngine.Formats.Gguf.GgufCheckpoint.LoadStored"/>)
    /// with the fused profile, without widening the model to fp32: in ggml's blocks of 32 (<see cref="OnnxExportOptions.BlockSize"/>)
    /// blocks already in the requested width are carried as they are (Q4_0 for int4; Q8_0 and Q6_K for int8); any other
    /// matrix is widened alone, quantised and let go, and only the embedding table is held in fp32. An int4 export of an 8B
    /// Q4_0 file thus needs about the file's size plus the table in memory, where the fp32 route needs four times the file.
    /// </summary>
    /// <param name="weights">The stored model; it must stay undisposed during the export.</param>
    /// <param name="outputDirectory">The directory to create (or to replace with <see cref="OnnxExportOptions.Force"/>).</param>
    /// <param name="options">Export options; the profile must be <see cref="OnnxExportProfile.Fused"/>.</param>
    /// <param name="cancellationToken">Stops the export; nothing is left behind.</param>
    /// <exception cref="ArgumentException">The portable profile (it writes fp32 weights: export <see cref="LlamaWeights"/>), or the options are invalid.</exception>
    /// <exception cref="NotSupportedException">Hugging Face weights loaded as stored (<c>HuggingFaceCheckpoint.LoadStored</c>): export their <see cref="LlamaWeights"/>.</exception>
    public static OnnxExportResult Export(StoredLlamaWeights weights, string outputDirectory, OnnxExportOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new OnnxExportOptions { Profile = OnnxExportProfile.Fused };
        if (options.Profile != OnnxExportProfile.Fused)
            throw new ArgumentException("Stored (block) weights export with the fused profile only; the portable profile writes fp32 weights (load the model as LlamaWeights).", nameof(options));
        if (weights.RotaryHalves)
            throw new NotSupportedException($"{weights.Source}: Hugging Face weights used as stored keep q and k in their own row order, which this export does not " +
                "reorder; export the model's LlamaWeights (HuggingFaceCheckpoint.Load) instead.");
        using var model = FusedModel.FromStored(weights);
        return ExportCore(weights.Config, weights.Source, outputDirectory, options, cancellationToken, beforePublish: null,
            () => BuildFused(model, options));
    }

    /// <summary>The file name a SentencePiece tokenizer taken out of a GGUF file gets in an export.</summary>
    public const string EmbeddedTokenizerFileName = "tokenizer.model";

    /// <summary>The file name a byte-level BPE tokenizer taken out of a GGUF file gets in an export.</summary>
    public const string EmbeddedTokenizerJsonFileName = "tokenizer.json";

    /// <summary>
    /// The files that complete a tokenizer.json (its special tokens, BOS/EOS flags and chat template) travel with it, so the
    /// export tokenizes and chats as the source directory does.
    /// </summary>
    private static void CopyTokenizerCompanions(string tokenizerPath, string directory)
    {
        if (!Path.GetFileName(tokenizerPath).Equals("tokenizer.json", StringComparison.OrdinalIgnoreCase))
            return;
        string source = Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!;
        foreach (string name in new[] { ChatFormat.TokenizerConfigFileName, ChatFormat.TemplateFileName })
            if (File.Exists(Path.Combine(source, name)))
                File.Copy(Path.Combine(source, name), Path.Combine(directory, name));
    }

    internal static OnnxExportResult ExportCore(LlamaWeights weights, string outputDirectory, OnnxExportOptions options,
        CancellationToken cancellationToken, Action<string>? beforePublish)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        return ExportCore(weights.Config, weights.Source, outputDirectory, options, cancellationToken, beforePublish,
            () => options.Profile == OnnxExportProfile.Fused ? BuildFused(weights, options) : (PortableLlamaGraph.Build(weights), []));
    }

    /// <summary>Checks the options, builds the graph, and writes the export directory with its manifest, tokenizer and genai files.</summary>
    private static OnnxExportResult ExportCore(ModelConfig config, string source, string outputDirectory, OnnxExportOptions options,
        CancellationToken cancellationToken, Action<string>? beforePublish, Func<(GraphBuilder Graph, IReadOnlyList<string> Requantized)> buildGraph)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Profile == OnnxExportProfile.Portable && options.Weights != OnnxWeightPrecision.Float32)
            throw new ArgumentException($"The portable profile stores fp32 weights only; {WeightsName(options.Weights)} weights need the fused profile.", nameof(options));
        if (options.MatMulAccuracyLevel is not (0 or 1 or 2 or 3 or 4))
            throw new ArgumentException($"MatMulNBits' accuracy level is 0 to 4, not {options.MatMulAccuracyLevel}.", nameof(options));
        if (options.BlockSize is { } blockSize)
        {
            if (blockSize is < 16 or > 256 || (blockSize & (blockSize - 1)) != 0)
                throw new ArgumentException($"The quantisation block size must be a power of two from 16 to 256, not {blockSize}.", nameof(options));
            if (options.Weights is OnnxWeightPrecision.Float32 or OnnxWeightPrecision.Float16)
                throw new ArgumentException($"A quantisation block size ({blockSize}) applies to int4/int8 weights, not {WeightsName(options.Weights)}.", nameof(options));
        }
        if (options.TokenizerPath is not null && !File.Exists(options.TokenizerPath))
            throw new FileNotFoundException($"The tokenizer '{options.TokenizerPath}' does not exist.", options.TokenizerPath);

        var clock = Stopwatch.StartNew();
        bool fused = options.Profile == OnnxExportProfile.Fused;
        var (graph, requantized) = buildGraph();
        bool external = options.ExternalData || OnnxModelWriter.InitializerBytes(graph) > options.EmbeddedLimitBytes;
        // A GGUF file carries its tokenizer inside; the export gets it as a standard file (a SentencePiece tokenizer.model,
        // or a tokenizer.json for a byte-level vocabulary) rather than a copy of the whole (weights-sized) GGUF file.
        // A tokenizer.json goes with a tokenizer_config.json naming BOS/EOS and carrying the GGUF's chat template.
        PieceTokenizer? gguf = options.TokenizerPath is not null && GgufFile.HasMagic(options.TokenizerPath) ? GgufTokenizer.Load(options.TokenizerPath) : null;
        var (embeddedTokenizer, embeddedName, embeddedConfig) = gguf switch
        {
            null => ((byte[]?)null, (string?)null, (byte[]?)null),
            SentencePieceModelTokenizer sp => (sp.ToModelBytes(), EmbeddedTokenizerFileName, (byte[]?)null),
            HuggingFaceTokenizer hf => (hf.ToTokenizerJson(), EmbeddedTokenizerJsonFileName,
                hf.ToTokenizerConfigJson(ChatFormat.FromGguf(options.TokenizerPath!)?.Template.Source)),
            _ => throw new NotSupportedException($"The tokenizer in '{options.TokenizerPath}' cannot be written as a standalone tokenizer file."),
        };
        string? tokenizerFile = options.TokenizerPath is null ? null : embeddedName ?? Path.GetFileName(options.TokenizerPath);
        // onnxruntime-genai reads only Hugging Face tokenizer files: a SentencePiece or llama2.c vocabulary also goes out as
        // a converted tokenizer.json (our own engine keeps reading the original, whose merge order is exact).
        var (genAiTokenizer, genAiTokenizerConfig, genAiProblem) = tokenizerFile is null || tokenizerFile == EmbeddedTokenizerJsonFileName
            || Path.GetFileName(options.TokenizerPath!).Equals(EmbeddedTokenizerJsonFileName, StringComparison.OrdinalIgnoreCase)
            ? ((byte[]?)null, (byte[]?)null, (string?)null)
            : ConvertForGenAi(gguf ?? TokenizerLoader.Load(options.TokenizerPath!, config.VocabSize));
        var manifest = new ExportManifest
        {
            Config = config,
            TokenizerFile = tokenizerFile,
            Profile = ProfileName(options.Profile),
            Weights = WeightsName(options.Weights),
            BlockSize = options.EffectiveBlockSize,
            Opset = (int)OnnxModelWriter.Opset,
            ExternalData = external,
            Source = source,
        };

        long modelBytes = 0, dataBytes = 0;
        AtomicDirectory.Write(outputDirectory, options.Force, replaceOption: "OnnxExportOptions.Force", write: temp =>
        {
            (modelBytes, dataBytes) = OnnxModelWriter.Write(graph, temp, external, Metadata(config, options), cancellationToken);
            if (embeddedTokenizer is not null)
                File.WriteAllBytes(Path.Combine(temp, tokenizerFile!), embeddedTokenizer);
            else if (options.TokenizerPath is not null)
            {
                File.Copy(options.TokenizerPath, Path.Combine(temp, tokenizerFile!));
                CopyTokenizerCompanions(options.TokenizerPath, temp);
            }
            if (embeddedConfig is not null)
                File.WriteAllBytes(Path.Combine(temp, ChatFormat.TokenizerConfigFileName), embeddedConfig);
            if (genAiTokenizer is not null)
            {
                File.WriteAllBytes(Path.Combine(temp, EmbeddedTokenizerJsonFileName), genAiTokenizer);
                File.WriteAllBytes(Path.Combine(temp, ChatFormat.TokenizerConfigFileName), genAiTokenizerConfig!);
            }
            File.WriteAllBytes(Path.Combine(temp, GenAiConfigWriter.FileName), GenAiConfigWriter.Write(config, GenerationConfigOf(source),
                sharedKvBuffer: fused, kvHeadWidth: fused ? FusedWeightSource.GraphHeadWidth(config) : null));
            File.WriteAllText(Path.Combine(temp, ExportManifest.FileName), manifest.ToJson());
            cancellationToken.ThrowIfCancellationRequested();
            beforePublish?.Invoke(temp);
        });

        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        return new OnnxExportResult
        {
            OutputDirectory = full,
            ModelPath = Path.Combine(full, ExportManifest.ModelFileName),
            ExternalDataPath = external ? Path.Combine(full, ExportManifest.ExternalDataFileName) : null,
            ManifestPath = Path.Combine(full, ExportManifest.FileName),
            TokenizerPath = tokenizerFile is null ? null : Path.Combine(full, tokenizerFile),
            ModelBytes = modelBytes,
            ExternalDataBytes = dataBytes,
            Elapsed = clock.Elapsed,
            Manifest = manifest,
            GenAiTokenizerProblem = genAiProblem,
            RequantizedFormats = requantized,
        };
    }

    /// <summary>A piece tokenizer as tokenizer.json + tokenizer_config.json, or why it cannot be one.</summary>
    private static (byte[]? Json, byte[]? Config, string? Problem) ConvertForGenAi(PieceTokenizer tokenizer)
    {
        try
        {
            return tokenizer switch
            {
                SentencePieceModelTokenizer sp => (sp.ToTokenizerJson(), sp.ToTokenizerConfigJson(), null),
                Llama2cTokenizer bin => (bin.ToTokenizerJson(), bin.ToTokenizerConfigJson(), null),
                _ => (null, null, null),   // a Hugging Face tokenizer: its own files were written
            };
        }
        catch (NotSupportedException e)
        {
            return (null, null, e.Message);
        }
    }

    /// <summary>The generation_config.json beside a Hugging Face source (a directory or a file in one), if any.</summary>
    private static HuggingFaceGenerationConfig? GenerationConfigOf(string source)
    {
        string? directory = Directory.Exists(source) ? source : File.Exists(source) ? Path.GetDirectoryName(Path.GetFullPath(source)) : null;
        return directory is null ? null : HuggingFaceGenerationConfig.Load(directory);
    }

    /// <summary>The fused graph; int4/int8 matrices a GGUF source stores in the requested width are taken as stored.</summary>
    private static (GraphBuilder Graph, IReadOnlyList<string> Requantized) BuildFused(LlamaWeights weights, OnnxExportOptions options)
    {
        bool quantised = options.Weights is OnnxWeightPrecision.Int4 or OnnxWeightPrecision.Int8;
        using var stored = quantised && File.Exists(weights.Source) && GgufFile.HasMagic(weights.Source) ? GgufCheckpoint.LoadStored(weights.Source, forKernels: false) : null;
        if (stored is not null && stored.Config.Dim != weights.Config.Dim)
            throw new InvalidOperationException($"'{weights.Source}' no longer holds the loaded model.");
        using var model = FusedModel.FromFp32(weights, stored);
        return BuildFused(model, options);
    }

    /// <summary>The fused graph of a model, with the stored formats its weights had to be quantised again from.</summary>
    private static (GraphBuilder Graph, IReadOnlyList<string> Requantized) BuildFused(FusedModel model, OnnxExportOptions options)
    {
        // fp32/fp16 weights have no blocks; the source never reads the block size then.
        var source = new FusedWeightSource(model, options.Weights, options.MatMulAccuracyLevel, options.EffectiveBlockSize ?? FusedWeightSource.GgmlBlockSize);
        GraphBuilder graph = FusedLlamaGraph.Build(model, source);
        return (graph, source.RequantizedFormats);
    }

    /// <summary>The manifest's and the CLI's name of a profile.</summary>
    public static string ProfileName(OnnxExportProfile profile) => profile == OnnxExportProfile.Fused ? "fused" : "portable";

    /// <summary>The manifest's and the CLI's name of a weight precision.</summary>
    public static string WeightsName(OnnxWeightPrecision weights) => weights switch
    {
        OnnxWeightPrecision.Float16 => "fp16",
        OnnxWeightPrecision.Int4 => "int4",
        OnnxWeightPrecision.Int4Asymmetric => "int4-asym",
        OnnxWeightPrecision.Int8 => "int8",
        _ => "fp32",
    };

    // Informational model metadata (the manifest is the authoritative description).
    private static Dictionary<string, string> Metadata(ModelConfig c, OnnxExportOptions options) => new()
    {
        ["mlpipe.profile"] = ProfileName(options.Profile),
        ["mlpipe.weights"] = WeightsName(options.Weights),
        ["mlpipe.rope"] = "adjacent-pairs",
        ["mlpipe.rope_theta"] = c.RopeTheta.ToString("R", CultureInfo.InvariantCulture),
        ["mlpipe.rope_scaling"] = c.RopeScaling.ToString(),
        ["mlpipe.max_sequence_length"] = c.MaxSequenceLength.ToString(CultureInfo.InvariantCulture),
    };
}
