using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>
/// The model under test, opened on either engine at any thread count: a checkpoint (named, or synthesized
/// with random weights for a named shape), or an existing ONNX export directory. A checkpoint is exported
/// to ONNX, through <see cref="OnnxExportCache"/>, the first time the ONNX engine needs it.
/// </summary>
public sealed partial class BenchmarkModel
{
    /// <summary>The seed of synthesized checkpoints: fixed, so every machine measures the same file.</summary>
    public const int SynthesisSeed = 1;

    /// <summary>The quantizations <c>--quantize</c> names (the managed engine runs them; ONNX Runtime does not).</summary>
    public static IReadOnlyList<string> KnownQuantizations { get; } = ["q8_0"];

    private readonly string? _cacheDirectory;
    private string? _exportDirectory;
    private OnnxExportProfile _profile = OnnxExportProfile.Portable;
    private OnnxWeightPrecision _weights = OnnxWeightPrecision.Float32;

    private BenchmarkModel(string name, ResolvedModel model, ModelConfig config, string? cacheDirectory)
    {
        Name = name;
        Model = model;
        Config = config;
        _cacheDirectory = cacheDirectory;
        if (model.Format == ModelFormat.OnnxExport)
            _exportDirectory = model.Path;
    }

    /// <summary>The model's name in reports: the shape name, or the checkpoint's or directory's name.</summary>
    public string Name { get; }

    /// <summary>The model, resolved once.</summary>
    public ResolvedModel Model { get; }

    /// <summary>The checkpoint file or directory; null when the model is an ONNX export directory.</summary>
    public string? Checkpoint => Model.Format == ModelFormat.OnnxExport ? null : Model.Path;

    /// <summary>What is measured: the checkpoint, else the ONNX export directory it was named as.</summary>
    public string Location => Model.Path;

    /// <summary>The model's configuration.</summary>
    public ModelConfig Config { get; }

    /// <summary>The least context a synthesized benchmark model gets.</summary>
    public const int MinBenchmarkContext = 1024;

    /// <summary>
    /// A random-weight checkpoint of a named shape (<see cref="ModelShapes"/>), synthesized once into
    /// <c>{cache}/synth/{shape}.bin</c> with <see cref="SynthesisSeed"/> and reused afterwards. Its context
    /// is at least <see cref="MinBenchmarkContext"/> positions (the 15m shape's own is 256), so a
    /// 512-token prefill fits, as llama-bench measures it; speed per token does not depend on it.
    /// </summary>
    /// <param name="shape">A name from <see cref="ModelShapes.Names"/>.</param>
    /// <param name="cacheDirectory">The cache root (default: <see cref="OnnxExportCache.DefaultDirectory"/>).</param>
    /// <param name="synthesized">True when this call wrote the checkpoint.</param>
    public static BenchmarkModel FromShape(string shape, string? cacheDirectory, out bool synthesized)
    {
        ModelConfig config = ModelShapes.Get(shape);
        config = config with { MaxSequenceLength = Math.Max(config.MaxSequenceLength, MinBenchmarkContext) };
        string name = shape.ToLowerInvariant();
        synthesized = false;
        if (config.RopeTheta != 10000f || config.RopeScaling.Kind != RopeScalingKind.None)
        {
            // Llama 3's RoPE settings have no place in a llama2.c file: the shape is synthesized as a Hugging Face directory.
            string directory = Path.Combine(cacheDirectory ?? OnnxExportCache.DefaultDirectory, "synth", name);
            if (!HasShape(directory, config))
            {
                HuggingFaceCheckpointWriter.WriteRandom(directory, config, SynthesisSeed, overwrite: true);
                synthesized = true;
            }
            return new BenchmarkModel(name, ResolvedModel.FromSource(new ModelSource(directory, ModelFormat.HuggingFace)), config, cacheDirectory);
        }
        string path = Path.Combine(cacheDirectory ?? OnnxExportCache.DefaultDirectory, "synth", name + ".bin");
        if (!HasShape(path, config))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            try
            {
                Llama2cCheckpointWriter.WriteRandom(path, config, SynthesisSeed, overwrite: File.Exists(path));
                synthesized = true;
            }
            catch (IOException) when (HasShape(path, config))
            {
                // Another process synthesized the same shape at the same time; its file is identical.
            }
        }
        // Tokenizers do not affect speed; the LLaMA 2 one only serves an ONNX export, which wants one.
        return new BenchmarkModel(name, ResolvedModel.FromSource(new ModelSource(path, ModelFormat.Llama2c)), config, cacheDirectory);
    }

    /// <summary>
    /// A model named as the other commands take it: a checkpoint file, a directory holding one, an ONNX export
    /// (<c>mlpipe export</c>'s or another tool's), or a model name (see <see cref="ModelLocator"/>).
    /// </summary>
    /// <param name="nameOrPath">The model (null: the default model).</param>
    /// <param name="tokenizer">Tokenizer for exporting a checkpoint to ONNX (default: the one beside it).</param>
    /// <param name="cacheDirectory">Cache root for that export (default: <see cref="OnnxExportCache.DefaultDirectory"/>).</param>
    public static BenchmarkModel FromPath(string? nameOrPath, string? tokenizer, string? cacheDirectory) =>
        FromModel(ResolvedModel.Resolve(nameOrPath, tokenizer), cacheDirectory);

    /// <summary>A model already resolved: a checkpoint in any format, or an ONNX export directory.</summary>
    /// <param name="model">The model.</param>
    /// <param name="cacheDirectory">Cache root for exporting a checkpoint (default: <see cref="OnnxExportCache.DefaultDirectory"/>).</param>
    public static BenchmarkModel FromModel(ResolvedModel model, string? cacheDirectory)
    {
        ArgumentNullException.ThrowIfNull(model);
        string name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(model.Path));
        ModelConfig config = model.Format == ModelFormat.OnnxExport ? OnnxLanguageModel.ReadManifest(model.Path).Config : model.Config;
        return new BenchmarkModel(name, model, config, cacheDirectory);
    }

    /// <summary>
    /// How a checkpoint is exported for the ONNX Runtime engine (default: portable, fp32): each profile and precision is a
    /// separate export in the cache. Call before the model is first opened on ONNX Runtime.
    /// </summary>
    /// <exception cref="NotSupportedException">The model is an export directory (it is measured as written).</exception>
    /// <exception cref="ArgumentException">Weights other than fp32 with the portable profile.</exception>
    public void ExportAs(OnnxExportProfile profile, OnnxWeightPrecision weights)
    {
        if (profile == OnnxExportProfile.Portable && weights == OnnxWeightPrecision.Float32 && _profile == profile && _weights == weights)
            return;
        if (Checkpoint is null)
            throw new NotSupportedException($"'{Model.Path}' is an ONNX export: it is measured as written, in its own profile and weights.");
        if (profile == OnnxExportProfile.Portable && weights != OnnxWeightPrecision.Float32)
            throw new ArgumentException($"{OnnxExporter.WeightsName(weights)} weights need the fused profile.", nameof(weights));
        (_profile, _weights, _exportDirectory) = (profile, weights, null);
    }

    /// <summary>Opens the model on <paramref name="engine"/> with <paramref name="threads"/> threads.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="threads">Managed engine: the model's thread count; ONNX Runtime: intra-op threads.</param>
    /// <param name="quantization">Weight quantization (null: fp32); see <see cref="KnownQuantizations"/>.</param>
    /// <exception cref="NotSupportedException">The engine cannot run the quantization (ONNX Runtime runs the
    /// export as written), or the managed engine is asked to run an ONNX export.</exception>
    public ILanguageModel Open(EngineKind engine, int threads, string? quantization = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        CheckQuantization(engine, quantization);
        if (engine == EngineKind.Managed)
        {
            if (Checkpoint is null)
                throw new NotSupportedException($"The managed engine runs checkpoints; '{_exportDirectory}' is an ONNX export. Name its checkpoint instead.");
            return ManagedModelLoader.LoadModel(Model, threads, quantize: quantization is not null);
        }
        return OnnxLanguageModel.Load(ExportDirectory(), new EngineOptions { Threads = threads });
    }

    /// <summary>Throws when <paramref name="quantization"/> is unknown, or known but not yet run by <paramref name="engine"/>.</summary>
    public static void CheckQuantization(EngineKind engine, string? quantization)
    {
        if (quantization is null)
            return;
        if (!KnownQuantizations.Contains(quantization, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"Unknown quantization '{quantization}'; known: {string.Join(", ", KnownQuantizations)}.", nameof(quantization));
        if (engine != EngineKind.Managed)
            throw new NotSupportedException(
                $"Quantization {quantization.ToLowerInvariant()} applies to the managed engine; ONNX Runtime runs the export's fp32 weights.");
    }

    /// <summary>The size of the model's file(s) in bytes (for a Hugging Face directory, config.json and the safetensors files).</summary>
    public long FileBytes()
    {
        if (Checkpoint is not null)
            return Model.Files.Sum(f => new FileInfo(f).Length);
        // The decoder graph and its external data (model.onnx.data, Optimum's model.onnx_data), whatever the graph is named.
        string decoder = OnnxExportLayout.FindDecoder(ExportDirectory());
        return Directory.EnumerateFiles(Path.GetDirectoryName(decoder)!, Path.GetFileName(decoder) + "*").Sum(f => new FileInfo(f).Length);
    }

    // The export directory, exporting the checkpoint into the cache the first time.
    private string ExportDirectory() =>
        _exportDirectory ??= OnnxExportCache.GetOrExport(ModelWithTokenizer(), _cacheDirectory, _profile, _weights, out _);

    // The model with its tokenizer (named, or beside it), else (vocab 32000: a synthesized shape or a TinyStories
    // model) with the LLaMA 2 tokenizer from the model directories: an export needs one, speed does not depend on it.
    private ResolvedModel ModelWithTokenizer()
    {
        try
        {
            _ = Model.TokenizerFile;
            return Model;
        }
        catch (FileNotFoundException) when (Config.VocabSize == 32000)
        {
            return ResolvedModel.FromSource(Model.Source, ModelLocator.Resolve(Path.Combine("llama2-tokenizer", "tokenizer.bin")));
        }
    }

    private static bool HasShape(string path, ModelConfig shape)
    {
        bool directory = Directory.Exists(path);
        if (!directory && !File.Exists(path))
            return false;
        try
        {
            ModelConfig c;
            if (directory)
            {
                // Only the configuration is read; an interrupted write lacks one of the files or fails to parse.
                if (!File.Exists(Path.Combine(path, "model.safetensors"))) return false;
                c = HuggingFaceConfig.Load(Path.Combine(path, HuggingFaceCheckpoint.ConfigFileName)).ToModelConfig();
                if (c.RopeTheta != shape.RopeTheta || c.RopeScaling != shape.RopeScaling) return false;
            }
            else
            {
                using var weights = Llama2cCheckpoint.Load(path);
                c = weights.Config;
            }
            return c.Dim == shape.Dim && c.HiddenDim == shape.HiddenDim && c.LayerCount == shape.LayerCount
                && c.HeadCount == shape.HeadCount && c.KvHeadCount == shape.KvHeadCount && c.VocabSize == shape.VocabSize
                && c.MaxSequenceLength == shape.MaxSequenceLength && c.SharedClassifier == shape.SharedClassifier;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException)
        {
            return false;
        }
    }
}
