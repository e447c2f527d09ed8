using Microsoft.ML.OnnxRuntime;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// An exported LLaMA decoder (see <see cref="ExportManifest"/>) running on ONNX Runtime, behind the same
/// <see cref="ILanguageModel"/> seam as the managed engine. One ONNX Runtime session is shared by all
/// decoder sessions; ONNX Runtime allows concurrent runs on it.
/// </summary>
public sealed class OnnxLanguageModel : ILanguageModel
{
    private OnnxLanguageModel(string directory, ExportManifest manifest, InferenceSession session,
        ExecutionProvider active, string? fallbackNotice, int threads)
    {
        Threads = threads;
        Directory = directory;
        Manifest = manifest;
        Session = session;
        ActiveProvider = active;
        FallbackNotice = fallbackNotice;
    }

    /// <summary>The export directory the model was loaded from.</summary>
    public string Directory { get; }

    /// <summary>The export's manifest (configuration, tokenizer file, profile).</summary>
    public ExportManifest Manifest { get; }

    /// <inheritdoc />
    public ModelConfig Config => Manifest.Config;

    /// <summary>The execution provider the model actually runs on.</summary>
    public ExecutionProvider ActiveProvider { get; }

    /// <summary>When the requested provider was unavailable and the CPU was used instead, why; otherwise null.</summary>
    public string? FallbackNotice { get; }

    /// <summary>ONNX Runtime's intra-op threads as requested (0: its default).</summary>
    public int Threads { get; }

    /// <inheritdoc />
    public EngineDescription Description => new()
    {
        Engine = "onnxruntime",
        Provider = ActiveProvider.ToString(),
        Precision = "fp32",
        Threads = Threads,
        Model = Directory,
        Notice = FallbackNotice,
    };

    internal InferenceSession Session { get; }

    /// <summary>
    /// Loads an export directory (<c>model.onnx</c>, optional <c>model.onnx.data</c>, <c>mlpipe.json</c>).
    /// </summary>
    /// <exception cref="FileNotFoundException">The directory, the manifest or the model file is missing.</exception>
    /// <exception cref="InvalidDataException">The model file is not a loadable ONNX model, or its inputs and outputs are not those of an exported LLaMA decoder.</exception>
    /// <exception cref="ExecutionProviderUnavailableException">The provider is unavailable and <see cref="EngineOptions.FallbackToCpu"/> is off.</exception>
    public static OnnxLanguageModel Load(string directory, EngineOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new EngineOptions();
        options.Validate(EngineKind.Onnx);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Exported model directory '{directory}' does not exist.");
        ExportManifest manifest = ExportManifest.Read(directory);
        string modelPath = Path.Combine(directory, ExportManifest.ModelFileName);
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"'{directory}' has a manifest but no {ExportManifest.ModelFileName}.", modelPath);

        using SessionOptions sessionOptions = ExecutionProviders.Create(options, out var active, out var notice);
        InferenceSession session;
        try
        {
            session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{modelPath}: not a loadable ONNX model ({e.Message.Trim()}).", e);
        }
        try
        {
            OnnxModelContract.Check(session, manifest.Config, modelPath);
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return new OnnxLanguageModel(Path.GetFullPath(directory), manifest, session, active, notice, options.Threads);
    }

    /// <summary>The tokenizer exported beside the model.</summary>
    /// <exception cref="FileNotFoundException">The export has no tokenizer.</exception>
    public PieceTokenizer LoadTokenizer()
    {
        if (Manifest.TokenizerFile is not { Length: > 0 } name)
            throw new FileNotFoundException($"The export in '{Directory}' has no tokenizer; name one explicitly.");
        return TokenizerLoader.Load(Path.Combine(Directory, name), Config.VocabSize);
    }

    /// <inheritdoc />
    public IModelSession CreateSession() => new OnnxModelSession(this);

    /// <summary>
    /// Runs a batch of sequences through the model in one call (no cache), padding them to the longest
    /// with an attention mask. Each row's results equal what the sequence alone would give.
    /// </summary>
    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs, PaddingSide padding) =>
        OnnxBatchRunner.Run(this, sequences, outputs, padding);

    /// <inheritdoc />
    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs) =>
        ForwardBatch(sequences, outputs, PaddingSide.Right);

    /// <inheritdoc />
    public void Dispose() => Session.Dispose();
}
